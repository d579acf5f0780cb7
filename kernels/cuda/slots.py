"""Slots of the small float64 scratch vector (``red``) a CUDA training step keeps on the
device: the partial results the step's kernels hand to one another, so that no scalar of a
step ever travels to the host."""

RED_SW_SUM = 0  # S: the batch's sample-weight total (or its row count)
RED_LOSS = 1  # sum over rows of w_i * (row loss)
RED_SUM_SQUARES = 2  # sum of the squared weights (L2)
RED_SUM_ABS = 3  # sum of the absolute weights (L1)
RED_CLIP = 4  # factor on the gradient in the update: 1, or max_norm / norm when clipping
RED_BATCH_LOSS = 5  # the batch's loss, regularisers included
N_RED = 6
