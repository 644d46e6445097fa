"""Tests of netbench.py's arithmetic and report (no namespaces, no root).

What a reader of the table relies on: percentiles of ping samples, medians
over passes, ratios against veth and wireguard-go, and a table row per
benchmark row (skipped rows say why).
"""

import os
import sys
import tempfile
import time
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
             "udp_kpps": 50.0, "ping1_p50_ms": 0.05, "ping1_p99_ms": 0.1,
             "ping50_p50_ms": 0.04, "ping_loss_pct": 0.0, "first_ping_ms": 4.0},
            {"row": "wireguard-go", "label": "wg", "status": "ok", "tcp_gbps": 0.5,
             "udp_kpps": 10.0, "ping1_p50_ms": 0.5, "ping1_p99_ms": 1.0, "ping5_p50_ms": 0.4,
             "ping5_p99_ms": 0.8, "ping50_p50_ms": 0.3, "ping50_p99_ms": 0.6,
             "ping_loss_pct": 0.0, "cpu_s_per_gb": 20.0, "first_ping_ms": 20.0},
            {"row": "fstun-fs-tmpfs", "label": "fs", "status": "ok", "tcp_gbps": 5.0,
             "udp_kpps": 25.0, "ping1_p50_ms": 0.25, "ping1_p99_ms": 0.5, "ping5_p50_ms": 0.2,
             "ping5_p99_ms": 0.4, "ping50_p50_ms": 0.15, "ping50_p99_ms": 0.3,
             "ping_loss_pct": 1.0, "ping_duplicates": 2, "cpu_s_per_gb": 5.0,
             "first_ping_ms": 30.0, "idle_wakeups_per_s": 1.4, "idle_cpu_pct": 0.05,
             "extra_ping_rates": [100], "ping100_p50_ms": 0.12, "ping100_p99_ms": 0.25},
            {"row": "python-demo", "label": "demo", "status": "skipped",
             "reason": "no --python-demo PATH given"},
        ]

    def test_ratios_against_veth_and_wireguard(self):
        results = self.results()
        netbench.add_ratios(results)
        fs = results[2]
        self.assertAlmostEqual(fs["tcp_gbps_x_veth"], 0.5)
        self.assertAlmostEqual(fs["tcp_gbps_x_wg"], 10.0)
        self.assertAlmostEqual(fs["ping1_p50_ms_x_wg"], 0.5)
        self.assertAlmostEqual(fs["ping1_p50_ms_x_veth"], 5.0)
        self.assertAlmostEqual(fs["ping50_p99_ms_x_wg"], 0.5)
        self.assertAlmostEqual(fs["first_ping_ms_x_wg"], 1.5)
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
        # Every line has the header's number of cells, skipped rows too.
        cells = [line.count("|") for line in table]
        self.assertEqual(cells, [cells[0]] * len(table))

    def test_table_shows_each_ping_rate_the_first_ping_and_idle_cost(self):
        results = self.results()
        netbench.add_ratios(results)
        table = netbench.markdown_table(results).splitlines()
        for rate, _ in netbench.PING_RATES:
            self.assertIn(f"ping {rate}/s p50 / p99 ms", table[0])
        self.assertIn("| 0.25 / 0.50 | 0.20 / 0.40 | 0.15 / 0.30 | 30.0 |", table[4])
        self.assertIn("| 1.4 | 0.05 |", table[4])
        # A rate veth was not measured at is a dash, not a crash.
        self.assertIn("| – |", table[2])

    def test_latency_ratios(self):
        results = self.results()
        netbench.add_ratios(results)
        table = netbench.latency_ratio_table(results).splitlines()
        self.assertEqual(len(table), 2 + 3)  # skipped rows left out
        self.assertIn("| fs | 5.00 / 0.50 | 0.50 |", table[4])

    def test_share_table_only_for_rows_over_a_share(self):
        results = self.results()
        self.assertEqual(netbench.share_table(results), "")
        results[2].update(share_write_gbps=2.0, share_write_direct_gbps=None,
                          share_read_gbps=8.0)
        table = netbench.share_table(results).splitlines()
        self.assertEqual(len(table), 3)
        self.assertIn("| fs | 2.00 | – | 8.00 | 5.00 (2.50) |", table[2])

    def test_report_files(self):
        class Args:
            tcp_seconds, udp_seconds, idle_seconds, asleep_seconds = 10, 5, 10, 40
            ping_rates = netbench.PING_RATES
            fstun_flag, repeat, nice = [], 1, 0
            memory_bridge_flag = ["--seal_aead=libsodium"]
        results = self.results()
        results[2].update(asleep_wakeups_per_s=62.5, asleep_cpu_pct=0.31)
        with tempfile.TemporaryDirectory() as out:
            netbench.write_report(results, out, Args())
            for name in ("results.md", "results.csv", "results.json"):
                self.assertTrue(os.path.getsize(os.path.join(out, name)) > 0, name)
            with open(os.path.join(out, "results.csv")) as f:
                self.assertEqual(len(f.read().strip().splitlines()), 1 + 4)
            with open(os.path.join(out, "results.md")) as f:
                md = f.read()
            self.assertIn("pings 20 at 1/s, 50 at 5/s, 200 at 50/s", md)
            self.assertIn("memory_bridge flags --seal_aead=libsodium", md)
            self.assertIn("Latency against veth and wireguard-go", md)
            self.assertIn("| fs | 100/s | 0.12 / 0.25 |", md)
            self.assertIn("nobody has used for 40 s", md)
            self.assertIn("| fs | 62.5 | 0.31 |", md)


class GlogTimeTest(unittest.TestCase):
    def test_ready_line_and_its_time(self):
        line = ("I20261201 10:32:49.530857 14738 operations.cc:112] ready: fstun 0.1.0 on fsB, "
                "role client, transport fs")
        m = netbench.READY_LINE.search("I20261201 10:32:49.1 1 x.cc:1] fs: up\n" + line)
        self.assertIsNotNone(m)
        t = netbench.glog_time(*m.groups())
        self.assertAlmostEqual(t % 60, 49.530857, places=5)
        self.assertEqual(time.strftime("%Y%m%d %H:%M:%S", time.localtime(t)), "20261201 10:32:49")


if __name__ == "__main__":
    unittest.main()
