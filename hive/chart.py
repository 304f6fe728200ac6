"""A picture of a batch run: rows kept vs rejected per step, with throughput — easier to read than JSON."""

from __future__ import annotations

from pathlib import Path

from hive.job import BatchReport


def write_chart(report: BatchReport, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    steps = [s for s in report.steps if s.seconds > 0]
    labels = [s.step for s in steps]
    fig, (rows_ax, speed_ax) = plt.subplots(1, 2, figsize=(12, 0.5 * len(steps) + 2), sharey=True)
    rows_ax.barh(labels, [s.rows_out for s in steps], color="#4477aa", label="rows out")
    rows_ax.barh(
        labels,
        [s.rows_rejected for s in steps],
        left=[s.rows_out for s in steps],
        color="#cc3311",
        label="rejected",
    )
    thousands = matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1e3:,.0f}k")
    rows_ax.xaxis.set_major_formatter(thousands)
    speed_ax.xaxis.set_major_formatter(thousands)
    rows_ax.set_xlabel("rows")
    rows_ax.legend(loc="lower right")
    rows_ax.invert_yaxis()
    speed = speed_ax.barh(labels, [s.rows_per_second for s in steps], color="#228833")
    speed_ax.bar_label(
        speed, labels=[f"{s.rows_per_second:,.0f}/s · {s.seconds:.1f}s" for s in steps], padding=4, fontsize=8
    )
    speed_ax.set_xlabel("rows per second")
    fig.suptitle(
        f"batch run · engine {report.engine} · {report.seconds:.1f}s · reconciled "
        f"{'yes' if all(s.balanced for s in report.steps) else 'NO'}"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
