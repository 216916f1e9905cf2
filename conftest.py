"""pytest's configuration for the whole repository.

``pytest --nbval`` compares every re-run notebook output with the committed one. Outputs that a
chapter shows with :mod:`companion.tolerance` (results that depend on training, which differ in
their last bits from one CPU to another) are compared within the tolerance stated in their
metadata instead of character by character; every other output is still compared exactly.
"""

from __future__ import annotations

from companion.tolerance import METADATA_KEY, compare_output


def pytest_configure(config) -> None:
    if not config.getoption("nbval", default=False):
        return
    from nbval.plugin import IPyNbCell

    exact_comparison = IPyNbCell.compare_outputs
    if getattr(exact_comparison, "with_tolerance", False):
        return

    def compare_outputs(self, test, ref, skip_compare=None) -> bool:
        stated = [index for index, output in enumerate(ref)
                  if METADATA_KEY in output.get("metadata", {})]
        if not stated:
            return exact_comparison(self, test, ref, skip_compare)
        self.comparison_traceback = []
        if len(test) != len(ref):
            self.comparison_traceback.append(
                f"{len(test)} outputs from running code, {len(ref)} committed")
            return False
        problems = [f"output {index}: {problem}" for index in stated
                    for problem in compare_output(ref[index], test[index])]
        if problems:
            self.comparison_traceback.append(
                "Results outside the tolerance stated with them:\n" + "\n".join(problems))
            return False
        rest = [index for index in range(len(ref)) if index not in stated]
        return exact_comparison(self, [test[i] for i in rest], [ref[i] for i in rest],
                                skip_compare)

    compare_outputs.with_tolerance = True
    IPyNbCell.compare_outputs = compare_outputs
