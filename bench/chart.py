"""The PNG chart for the README: requests/s and p99 per load point, one bar per server."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.config import BASELINE, ModelSpec
from bench.report import Summary, ratio

COLORS = {"tiffin": "#d95f02", "baseline": "#1b9e77", "ceiling": "#7570b3"}
FALLBACK_COLORS = ("#e7298a", "#66a61e", "#e6ab02", "#a6761d")


def draw(
    summaries: dict[tuple[str, str], Summary],
    models: Sequence[ModelSpec],
    servers: Sequence[str],
    *,
    title: str,
    note: str,
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    columns = [(model.name, point) for model in models for point in model.points]
    fig, axes = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True)
    width = 0.8 / max(1, len(servers))
    colors = {s: COLORS.get(s, FALLBACK_COLORS[i % len(FALLBACK_COLORS)]) for i, s in enumerate(servers)}
    panels = (("rps", "requests/s (log)"), ("p99_ms", "p99 latency, ms (log)"))
    for ax, (metric, ylabel) in zip(axes, panels, strict=True):
        for i, server in enumerate(servers):
            color = colors[server]
            xs, heights, notes = [], [], []
            for x, (model, point) in enumerate(columns):
                summary = summaries.get((model, server))
                value = summary.points.get(point.key, {}).get(metric) if summary else None
                offset = x - 0.4 + width * (i + 0.5)
                if value is None:
                    if summary is not None:
                        ax.text(
                            offset,
                            0.02,
                            "failed",
                            rotation=90,
                            ha="center",
                            va="bottom",
                            fontsize=7,
                            color=color,
                            transform=ax.get_xaxis_transform(),
                        )
                    continue
                xs.append(offset)
                heights.append(value)
                r = ratio(summaries, model, server, point.key, metric) if server != BASELINE else None
                notes.append("" if r is None else f"{r:.2f}×")
            bars = ax.bar(xs, heights, width=width * 0.95, color=color)
            ax.bar_label(bars, labels=notes, fontsize=7, padding=2)
        ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", which="major", alpha=0.3)
        for x in range(1, len(columns)):
            if columns[x][0] != columns[x - 1][0]:
                ax.axvline(x - 0.5, color="grey", linewidth=0.8)
    handles = [Patch(color=colors[s], label=s) for s in servers]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.965), fontsize=8, ncols=len(servers))
    axes[0].margins(y=0.15)
    axes[-1].set_xticks(range(len(columns)))
    axes[-1].set_xticklabels([f"{model}\n{point.label}" for model, point in columns], fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.text(0.01, 0.005, note, fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.02, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
