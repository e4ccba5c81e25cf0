#!/usr/bin/env python
"""Fraud classifier benchmark.

    .venv/bin/python tests/load/bench_fraud.py [--calls 500] [--batch 10000]

Prints single-listing scoring latency (p50/p95 over 500 calls; target p95
under 5 ms), in-process batch throughput (10,000 records), chat-message
scoring, and the wall time of `manage.py fraud_score --input FILE.jsonl` on
10,000 generated lines, process start-up included (target under 10 s). Uses
the saved model when there is one (FRAUD_MODEL_PATH / var/models), else
trains a small one first. Figures, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--batch", type=int, default=10000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    import django

    django.setup()
    from trust.fraud import generator
    from trust.fraud.model import get_model

    started = time.perf_counter()
    model = get_model()
    print(f"model {model.version} ready in {time.perf_counter() - started:.1f} s")
    records = generator.generate_listings(max(args.calls, 200), seed=123)
    model.score_records(records[:5])  # warm caches
    latencies = []
    for i in range(args.calls):
        t = time.perf_counter()
        model.score_records([records[i % len(records)]])
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(f"single listing: p50 {statistics.median(latencies):.2f} ms, p95 {p95:.2f} ms "
          f"({args.calls} calls)")
    batch = (records * (args.batch // len(records) + 1))[: args.batch]
    t = time.perf_counter()
    model.score_records(batch)
    seconds = time.perf_counter() - t
    print(f"batch: {args.batch} listings in {seconds:.2f} s = {args.batch / seconds:,.0f}/s")
    texts = ["Hi, is this still available?", "加我微信 abc123 转账"] * 250
    t = time.perf_counter()
    model.score_texts(texts)
    print(f"messages: {len(texts)} in {time.perf_counter() - t:.2f} s")

    from trust.fraud import data

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "listings.jsonl"
        source.write_text("".join(json.dumps(data.validate_listing(r), ensure_ascii=False) + "\n"
                                  for r in batch))
        t = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "fraud_score", "--input", str(source)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False,
        )
        seconds = time.perf_counter() - t
    status = "ok" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-300:]}"
    print(f"fraud_score command: {len(batch)} lines in {seconds:.2f} s "
          f"(start-up included, {status})")


if __name__ == "__main__":
    main()
