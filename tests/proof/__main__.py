"""`make proof`: the standing reliability proof of issue 12, one JSON object per part, then a
verdict; exit 1 when any promise is broken. Parts: crash_loop, fuzz, hostile_mis,
operator_abuse, full_disk, self_test (PROOF_PARTS picks some, comma-separated). PROOF_PLANT
(lost_event, duplicate_job, unsigned_row) plants a fault in the real run: it must then fail.
Each part's module names its size overrides."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.proof import crash_loop, full_disk, fuzz, hostile_mis, operator_abuse
from tests.proof.common import planted

PARTS = ("self_test", "crash_loop", "fuzz", "hostile_mis", "operator_abuse", "full_disk")


def self_test(folder: Path, **_: Any) -> dict[str, Any]:
    """The harness tested: tiny runs with a planted fault must be reported broken, and the
    same tiny runs without one must pass."""
    results: dict[str, Any] = {}
    clean = crash_loop.run(folder / "clean", orders=6, kills=2, interval=0.2, settle_seconds=90)
    results["crash_loop_clean_passes"] = not clean["broken"]
    for kind in ("duplicate_job", "lost_event"):
        broken = crash_loop.run(
            folder / kind, kind, orders=4, kills=1, interval=0.2, settle_seconds=90
        )["broken"]
        results[f"crash_loop_{kind}_caught"] = [b["promise"] for b in broken]
    fuzz_clean = fuzz.run(folder / "fuzz-clean", bodies=300, abuse=False)
    results["fuzz_clean_passes"] = not fuzz_clean["broken"]
    fuzz_planted = fuzz.run(folder / "fuzz-plant", "unsigned_row", bodies=300, abuse=False)
    results["fuzz_unsigned_row_caught"] = [b["promise"] for b in fuzz_planted["broken"]]
    broken = [{"check": name, "seen": value} for name, value in results.items() if not value]
    return {**results, "broken": broken}


def main() -> int:
    plant = planted()
    wanted = [p for p in os.environ.get("PROOF_PARTS", ",".join(PARTS)).split(",") if p]
    unknown = [p for p in wanted if p not in PARTS]
    if unknown:
        raise SystemExit(f"PROOF_PARTS: unknown part(s) {', '.join(unknown)} (known: {PARTS})")
    runners: dict[str, Callable[..., dict[str, Any]]] = {
        "self_test": self_test,
        "crash_loop": crash_loop.run,
        "fuzz": fuzz.run,
        "hostile_mis": hostile_mis.run,
        "operator_abuse": operator_abuse.run,
        "full_disk": full_disk.run,
    }
    verdict: dict[str, Any] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="esd-proof-") as tmp:
        for part in wanted:
            began = time.monotonic()
            kwargs: dict[str, Any] = {}
            # unsigned_row is the fuzz's plant; the others the crash loop's
            if (
                plant
                and part in ("crash_loop", "fuzz")
                and (plant == "unsigned_row") == (part == "fuzz")
            ):
                kwargs["plant_kind"] = plant
            try:
                figures = runners[part](Path(tmp) / part, **kwargs)
            except Exception as exc:  # a part that cannot finish is a broken promise too
                figures = {"broken": [{"promise": "the part ran", "error": repr(exc)[-2000:]}]}
            figures["seconds"] = round(time.monotonic() - began, 1)
            print(json.dumps({"part": part, **figures}, default=str), flush=True)
            verdict[part] = (
                "broken" if figures["broken"] else ("skipped" if "skipped" in figures else "kept")
            )
    ok = all(v != "broken" for v in verdict.values())
    print(
        json.dumps(
            {
                "verdict": "kept" if ok else "broken",
                "parts": verdict,
                "planted": plant or None,
                "seconds": round(time.monotonic() - started, 1),
            }
        ),
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
