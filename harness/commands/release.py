"""``release WHEEL_DIR --reports REPORT_DIR --expect CELL ...``: may this whole release ship?

Exit 0 pass, 1 fail (fileset, unsafe gate, stale/foreign/unreadable report, metadata error), 2 bad input,
4 not gated (nothing failed, but a free-threaded cell has no safe gate report for its exact file).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands._options import add_ci_formats, check_outputs, write_ci_formats, write_or_say
from harness.pipeline.release import judge
from harness.report import junit
from harness.report.release import render_text, write_release_reports
from harness.wheel.fileset import CELL_EXAMPLES, parse_cell


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "release",
        help="one verdict for a release: exact fileset, a safe gate report per free-threaded cell, metadata",
        description="Exit 0 pass; 1 fail; 2 bad input; 4 a free-threaded cell was not gated "
        "(see --allow-imports-only).",
    )
    parser.add_argument("directory", type=Path, metavar="WHEEL_DIR", help="folder with every wheel of the release")
    parser.add_argument("--reports", required=True, type=Path, metavar="REPORT_DIR",
                        help="folder with the gate JSON reports of the per-platform jobs (searched recursively)")
    parser.add_argument("--expect", nargs="+", required=True, metavar="CELL",
                        help=f"expected cells, e.g. {CELL_EXAMPLES}")
    parser.add_argument("--allow-imports-only", action="store_true",
                        help="count a gate that ran the import audit only (no target, no stress) as gated")
    parser.add_argument("--report-dir", type=Path, default=Path("reports"), metavar="DIR",
                        help="where the release JSON, Markdown and HTML go (default: %(default)s)")
    add_ci_formats(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cells = [parse_cell(text) for text in args.expect]
    check_outputs(args, args.report_dir)
    record = judge(args.directory, args.reports, cells, allow_imports_only=args.allow_imports_only)
    data = record.to_json()
    print(render_text(data))
    paths = write_or_say("release", lambda: [*write_release_reports(data, args.report_dir),
                                             *write_ci_formats(args, data, junit.release_suites(data))])
    if paths:
        print("report: " + ", ".join(str(p) for p in paths))
    return record.exit_code
