"""How much the chapters' shown numbers move with the CPU's floating-point path.

The committed notebooks are compared with a re-run by ``pytest --nbval``; numbers that depend
on training differ in their last bits from one CPU (or kernel choice, or thread count) to
another, and training amplifies that. This script re-executes every chapter under several
kernel configurations that stand in for other CPUs, then prints, per result output, the
largest deviation of any shown number from the committed notebook: the spread from which the
tolerances stated in the chapters (``companion.tolerance``) are derived.

Run: ``.venv/bin/python benchmarks/notebook_spread.py [--configs default,generic,avx2,threads]``
(each configuration re-runs all chapters, ≈ 4 minutes on 2 cores; ``--jobs 2`` runs two at a
time). Executed notebooks are kept in ``.scratch/spread/<config>/`` and ``--compare-only``
re-reads them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pandas as pd

from companion.paths import repository_root
from companion.tolerance import output_numbers

#: configuration → environment it sets before the kernel imports torch.
CONFIGS: dict[str, dict[str, str]] = {
    "default": {},
    "generic": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
             "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "threads": {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"},
}
CHAPTERS = ("data", "vlae", "splitnet", "vhcr", "ppca")


def execute(config: str, chapter: str, folder: Path) -> Path:
    """Run ``notebooks/<chapter>.ipynb`` in a fresh kernel under ``config``; the executed copy."""
    root = repository_root()
    out = folder / config / f"{chapter}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **CONFIGS[config],
           "COMPANION_RESULTS_DIR": str(folder / config / "results")}
    subprocess.run([sys.executable, "-m", "papermill", "--no-progress-bar", "--cwd", str(root),
                    str(root / "notebooks" / f"{chapter}.ipynb"), str(out)],
                   cwd=root, env=env, check=True, capture_output=True)
    return out


def deviations(committed: Path, executed: Path) -> pd.DataFrame:
    """Per output that shows numbers: the largest |executed − committed| of its numbers."""
    reference = nbformat.read(committed, as_version=4)
    rerun = nbformat.read(executed, as_version=4)
    rows = []
    for index, (ref_cell, new_cell) in enumerate(zip(reference.cells, rerun.cells)):
        if ref_cell.cell_type != "code":
            continue
        for position, (ref_out, new_out) in enumerate(zip(ref_cell.outputs, new_cell.outputs)):
            ref_numbers, new_numbers = output_numbers(ref_out), output_numbers(new_out)
            if not ref_numbers:
                continue
            if len(ref_numbers) != len(new_numbers):
                rows.append({"cell": index, "output": position, "numbers": len(ref_numbers),
                             "max |deviation|": float("inf"), "where": "count differs"})
                continue
            gaps = [abs(a - b) if a == a and b == b else (0.0 if a != a and b != b else float("inf"))
                    for a, b in zip(ref_numbers, new_numbers)]
            worst = max(range(len(gaps)), key=gaps.__getitem__)
            rows.append({"cell": index, "output": position, "numbers": len(ref_numbers),
                         "max |deviation|": gaps[worst],
                         "where": f"{ref_numbers[worst]:g} → {new_numbers[worst]:g}"})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--chapters", default=",".join(CHAPTERS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--compare-only", action="store_true")
    args = parser.parse_args()
    folder = repository_root() / ".scratch" / "spread"
    configs, chapters = args.configs.split(","), args.chapters.split(",")
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown configuration(s) {unknown}; known: {sorted(CONFIGS)}")
    if not args.compare_only:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda job: execute(*job, folder),
                          [(config, chapter) for config in configs for chapter in chapters]))
    tables = []
    for config in configs:
        for chapter in chapters:
            executed = folder / config / f"{chapter}.ipynb"
            if executed.exists():
                table = deviations(repository_root() / "notebooks" / f"{chapter}.ipynb", executed)
                tables.append(table.assign(config=config, chapter=chapter))
    table = pd.concat(tables, ignore_index=True)
    pd.set_option("display.width", 200)
    moved = table[table["max |deviation|"] > 0]
    print(moved.set_index(["chapter", "cell", "output", "config"]).sort_index().to_string())
    print(f"\n{len(moved)} of {len(table)} number-bearing outputs moved in some configuration")


if __name__ == "__main__":
    main()
