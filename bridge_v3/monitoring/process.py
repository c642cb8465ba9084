"""The process's own figures on the metrics page, under Prometheus's standard names.

psutil reads them on Windows and Linux alike (prometheus-client's own process collector
reads ``/proc``, which Windows has not).
"""

from __future__ import annotations

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class ProcessFigures(Collector):
    def __init__(self) -> None:
        self._process = psutil.Process()

    def collect(self):
        process = self._process
        with process.oneshot():
            memory = process.memory_info()
            cpu = process.cpu_times()
            threads = process.num_threads()
            started = process.create_time()
        yield GaugeMetricFamily(
            "process_resident_memory_bytes", "Resident memory size in bytes.", value=memory.rss
        )
        yield GaugeMetricFamily(
            "process_virtual_memory_bytes", "Virtual memory size in bytes.", value=memory.vms
        )
        yield CounterMetricFamily(
            "process_cpu_seconds",
            "Total user and system CPU time in seconds.",
            value=cpu.user + cpu.system,
        )
        yield GaugeMetricFamily(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch.",
            value=started,
        )
        yield GaugeMetricFamily("process_threads", "Threads of the process.", value=threads)
