"""The per-phase step profile (bench/profile_step.py): every phase is there, with the BLAS
call products.py makes or "micro"."""

from bench import profile_step
from fastmlp.kernels.cpu import products


def test_profile_has_every_phase_with_its_blas_form():
    # float64 always calls BLAS (float32's few-row products may all be micro-kernels).
    rows, steps = profile_step.profile((3, 5, 2), batch=4, dtype="float64")
    phases = {name: form for name, form, *_ in rows}
    # out (rows x cols) <- A @ W is BLAS's N N cols x rows x inner; A.T @ D is N T; D @ W.T is T N
    assert phases["L1 forward A@W"] == "NN 5x4x3"
    assert phases["L1 grad A.T@D"] == "NT 5x3x4"
    assert phases["L2 delta D@W.T"] == "TN 5x4x2"
    assert "L1 delta D@W.T" not in phases  # the input needs no delta
    assert {"L2 bias+softmax", "loss + output delta", "adam update"} <= set(phases)
    assert all(seconds > 0 for _, _, seconds, _, _ in rows)
    assert set(steps) == {False, True} and min(steps.values()) > 0


def test_table_sums_the_phases_without_diagnostics():
    rows = [("a", "", 1e-6, 0, 0), ("b", "", 2e-6, 0, 0), ("diagnostics: x", "", 5e-6, 0, 0)]
    table = profile_step.format_profile(rows, {False: 4e-6, True: 9e-6})
    assert "| sum of the phases (no diagnostics) | | 3.00 |" in table
    assert "| a |  | 1.00 |  | 0.000 | 33% |" in table


def test_profile_names_the_micro_kernels_a_one_row_step_uses():
    rows, _ = profile_step.profile((3, 40, 2), batch=1)
    phases = {name: form for name, form, *_ in rows}
    assert phases["L1 grad A.T@D"] == phases["L2 delta D@W.T"] == "micro"  # either profile
    assert phases["L1 forward A@W"] == ("micro" if products.MANY else "NN 40x1x3")
    rows, _ = profile_step.profile((3, 40, 2), batch=1, dtype="float64")
    assert {"NN 40x1x3", "NT 40x3x1", "TN 40x1x2"} <= {form for _, form, *_ in rows}
