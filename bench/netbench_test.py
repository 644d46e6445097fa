"""Tests of netbench.py's arithmetic and report (no namespaces, no root).

What a reader of the table relies on: percentiles of ping samples, medians
over passes, ratios against veth and wireguard-go, and a table row per
benchmark row (skipped rows say why).
"""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netbench  # noqa: E402


class PercentileTest(unittest.TestCase):
    def test_median_and_p99_of_samples(self):
        samples = [float(i) for i in range(1, 101)]  # 1..100
        self.assertAlmostEqual(netbench.percentile(samples, 50), 50.5)
        self.assertAlmostEqual(netbench.percentile(samples, 99), 99.01)

    def test_order_does_not_matter(self):
        self.assertEqual(netbench.percentile([3.0, 1.0, 2.0], 50), 2.0)

    def test_no_samples_is_none(self):
        self.assertIsNone(netbench.percentile([], 50))


class CombineRunsTest(unittest.TestCase):
    def test_median_of_passes_that_worked(self):
        runs = [
            {"row": "x", "label": "x", "status": "ok", "tcp_gbps": 1.0, "ping_p50_ms": 0.3},
            {"row": "x", "label": "x", "status": "failed", "reason": "no ping reply"},
            {"row": "x", "label": "x", "status": "ok", "tcp_gbps": 3.0, "ping_p50_ms": 0.1},
            {"row": "x", "label": "x", "status": "ok", "tcp_gbps": 2.0, "ping_p50_ms": 0.2},
        ]
        combined = netbench.combine_runs(runs)
        self.assertEqual(combined["status"], "ok")
        self.assertEqual(combined["tcp_gbps"], 2.0)
        self.assertEqual(combined["ping_p50_ms"], 0.2)
        self.assertEqual(combined["passes_ok"], 3)
        self.assertEqual(combined["failed_passes"], ["no ping reply"])

    def test_all_failed_keeps_the_reason(self):
        runs = [{"row": "x", "label": "x", "status": "skipped", "reason": "no socat"}]
        self.assertEqual(netbench.combine_runs(runs)["reason"], "no socat")


class ReportTest(unittest.TestCase):
    def results(self):
        return [
            {"row": "veth", "label": "veth", "status": "ok", "tcp_gbps": 10.0,
             "udp_kpps": 50.0, "ping_p50_ms": 0.05, "ping_p99_ms": 0.1, "ping_loss_pct": 0.0},
            {"row": "wireguard-go", "label": "wg", "status": "ok", "tcp_gbps": 0.5,
             "udp_kpps": 10.0, "ping_p50_ms": 0.5, "ping_p99_ms": 1.0, "ping_loss_pct": 0.0,
             "cpu_s_per_gb": 20.0},
            {"row": "fstun-fs-tmpfs", "label": "fs", "status": "ok", "tcp_gbps": 5.0,
             "udp_kpps": 25.0, "ping_p50_ms": 0.25, "ping_p99_ms": 0.5, "ping_loss_pct": 1.0,
             "ping_duplicates": 2, "cpu_s_per_gb": 5.0},
            {"row": "python-demo", "label": "demo", "status": "skipped",
             "reason": "no --python-demo PATH given"},
        ]

    def test_ratios_against_veth_and_wireguard(self):
        results = self.results()
        netbench.add_ratios(results)
        fs = results[2]
        self.assertAlmostEqual(fs["tcp_gbps_x_veth"], 0.5)
        self.assertAlmostEqual(fs["tcp_gbps_x_wg"], 10.0)
        self.assertAlmostEqual(fs["ping_p50_ms_x_wg"], 0.5)
        self.assertAlmostEqual(fs["cpu_s_per_gb_x_wg"], 0.25)
        self.assertIsNone(results[3]["tcp_gbps_x_veth"])

    def test_table_has_a_line_per_row_and_says_why_one_was_skipped(self):
        results = self.results()
        netbench.add_ratios(results)
        table = netbench.markdown_table(results).splitlines()
        self.assertEqual(len(table), 2 + len(results))
        self.assertIn("5.00 (0.50 / 10.0)", table[4])
        self.assertIn("(2 dup)", table[4])
        self.assertIn("skipped: no --python-demo PATH given", table[5])

    def test_report_files(self):
        class Args:
            tcp_seconds, udp_seconds, ping_count, idle_seconds = 10, 5, 200, 5
            fstun_flag, repeat, nice = [], 1, 0
        with tempfile.TemporaryDirectory() as out:
            netbench.write_report(self.results(), out, Args())
            for name in ("results.md", "results.csv", "results.json"):
                self.assertTrue(os.path.getsize(os.path.join(out, name)) > 0, name)
            with open(os.path.join(out, "results.csv")) as f:
                self.assertEqual(len(f.read().strip().splitlines()), 1 + 4)


if __name__ == "__main__":
    unittest.main()
