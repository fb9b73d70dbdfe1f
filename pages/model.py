"""Model: the network part by part (parameters, MACs, measured ms), one head per exit
against FreeML's shared exit, and the real-exit speed benchmark."""

import time
from concurrent.futures import ThreadPoolExecutor

import streamlit as st

from ui.frame import LOADING, page_frame

page_frame()  # the app's frame, also when Streamlit runs this page without the router
st.title("Model: part by part, and timed")  # drawn first: see ui.frame.LOADING
with st.spinner(LOADING):
    import pandas as pd

    from explorer import anatomy, plots, zoo
    from explorer.bench import BenchResult, bench
    from explorer.bench import estimate as bench_estimate
    from explorer.speedup import DEFINITION, REPEATS, WARMUP
    from ui import choice, common

BATCHES = (1, 64)
FORMATS = {"parameters": st.column_config.NumberColumn(format="localized"),
           "MACs": st.column_config.NumberColumn(format="compact"),
           "ms": st.column_config.NumberColumn(format="%.3f")}


def parameters(name: str) -> anatomy.ParameterCounts:
    return anatomy.parameter_counts(common.load_model(name))


def architecture_ui(name: str) -> None:
    prof, params = common.test_profile(name), parameters(name)
    rows = anatomy.parts_table(params, prof)
    st.subheader("Architecture: every stage and head")
    m = st.columns(4)
    m[0].metric("Parameters", f"{params.total:,}")
    m[1].metric("MACs, full model", f"{prof.full() / 1e6:.2f} M")
    m[2].metric("ms, full model (batch 1)", f"{prof.full('ms'):.2f}")
    m[3].metric("Exits", prof.k)
    unit = st.radio("Show", ["MACs", "ms", "parameters"], horizontal=True, key="w.unit")
    st.plotly_chart(plots.cost_breakdown(rows, unit))
    front_ms = prof.ms.front / prof.full("ms")
    first_ms = prof.ms.front + float(prof.ms.stage[0])
    st.markdown(f"**Front end: {prof.macs.front / prof.full():.0%} of the full model's MACs, {front_ms:.0%} of its "
                f"measured ms** ({prof.ms.front:.3g} ms; each of the {prof.k} stages "
                f"{float(prof.ms.stage.min()):.3g}–{float(prof.ms.stage.max()):.3g} ms). Every input pays the front "
                f"end and the first stage, so no threshold makes it more than {prof.full('ms') / first_ms:.1f}× "
                "faster, measured (ms), than the plain model.")
    table = anatomy.by_exit(rows)
    st.dataframe(table, hide_index=True, column_config={c: FORMATS[c.rsplit(" ", 1)[-1]] for c in table.columns[1:]})
    note = zoo.get(name).input_note
    st.caption(f"MACs counted by torch at batch 1{' ' + note if note else ''}; ms measured on "
               f"this machine ({prof.meta.threads or '?'} threads) when the profile was made. Parameters: those "
               "each part really runs; the total also counts parameters used only in training.")


def shared_exit_ui(views: dict[str, str]) -> None:
    st.subheader("One head per exit against one shared exit (FreeML)")
    rows = anatomy.head_overhead({label: (parameters(n), common.test_profile(n)) for label, n in views.items()})
    # a table that wraps its headers (a data grid this wide cut them: "accurac"), in the units shown elsewhere
    st.table(pd.DataFrame(rows).style.hide(axis="index").format({
        "parameters": "{:,}", "MACs per read": lambda v: f"{v / 1e3:,.1f} K",
        "MACs read at every exit": lambda v: f"{v / 1e3:,.1f} K", "share of backbone MACs": "{:.2%}",
        "ms per read (measured)": "{:.3f}", "accuracy, first exit": "{:.2%}", "accuracy, last exit": "{:.2%}"}))
    st.caption("Same backbone, same checkpoint. The shared exit reads every exit point's pooled features (zero for "
               "blocks not yet run) with one linear classifier: fewer parameters, a little more per read, and "
               "weaker early exits.")


def _kb(n: float) -> str:
    return f"{n / 1024:,.1f} KB"


def memory_ui(name: str) -> None:
    st.subheader("Memory: weights, checkpoint and peak per exit (measured)")
    mem, prof = common.measured_memory(name), common.test_profile(name)
    m = st.columns(3)
    m[0].metric("Weights (every part)", _kb(mem.weights_total))
    m[1].metric("Checkpoint on disk", _kb(mem.checkpoint_bytes))
    m[2].metric("Peak working memory, full depth", _kb(mem.peak_bytes[-1]),
                help=f"Median of {mem.repeats} runs, ± {_kb(mem.peak_spread[-1] / 2)} (half their spread).")
    st.plotly_chart(plots.memory_per_exit(mem.weights_to_exit, mem.peak_bytes, mem.peak_spread,
                                          prof.meta.exit_names))
    parts = pd.DataFrame({"part": [p if p != "unused" else "in the checkpoint, never read by these exits"
                                   for p in mem.weights], "bytes": list(mem.weights.values())})
    st.dataframe(parts[parts["bytes"] > 0], hide_index=True, column_config={"bytes": FORMATS["parameters"]})
    st.caption(f"Weights: bytes of every tensor, by the part that reads it ({mem.repeats} repeats per exit for the "
               "peak: torch's CPU allocator, the extra bytes it held during one batch-1 inference that really "
               "left at that exit). Measured once per server start, when this section was first shown.")


def shared_exit_memory_ui(views: dict[str, str]) -> None:
    """FreeML's claim in measured bytes: one shared exit against one head per exit."""
    rows = []
    for label, n in views.items():
        model = common.load_model(n)
        rows.append({"heads": label, "bytes of the exit heads": common.measured_memory(n).weights[model.task_head]})
    per_exit, shared = rows[0]["bytes of the exit heads"], rows[-1]["bytes of the exit heads"]  # head_views' order
    st.dataframe(pd.DataFrame(rows), hide_index=True,
                 column_config={"bytes of the exit heads": FORMATS["parameters"]})
    if shared:
        st.caption(f"Measured weight bytes: the exit heads take {per_exit / shared:.2f}× the memory of the one "
                   "shared exit.")


def run_benchmark(name: str, crit: str, thr: float, limit: int) -> list[BenchResult]:
    """Both batch sizes, each in a worker thread while a progress bar estimates how far
    it has got."""
    bar = st.progress(0.0, "Starting the benchmark…")
    results = []
    with ThreadPoolExecutor(1) as pool:
        for i, batch in enumerate(BATCHES):
            estimate = bench_estimate(name, crit, thr, batch, limit).seconds
            job = pool.submit(bench, name, crit, thr, batch, limit=limit, repeats=REPEATS)
            start = time.perf_counter()
            while not job.done():
                spent = time.perf_counter() - start
                done = min(spent / estimate, 0.95)
                bar.progress((i + done) / len(BATCHES), f"Batch {batch}: timing the full model and the real exits "
                             f"on {limit} inputs ({WARMUP} warm-up and {REPEATS} timed runs each, in turns): "
                             f"{spent:.0f} s of about {estimate:.0f} s…")
                time.sleep(0.2)
            results.append(job.result())
    bar.empty()
    return results


def benchmark_ui(name: str) -> None:
    st.subheader("Real exits, timed")
    st.caption("The plain model against real early exits on the same test inputs, at batch 1 (each input alone) "
               f"and batch 64 (exited inputs leave the batch). {DEFINITION}")
    prof = common.test_profile(name)
    c1, c2, c4, c3 = st.columns([2, 3, 1, 1])
    crit = choice.criterion_select(name, common.causal_criteria(name), c1)
    thr = choice.threshold_widget(name, crit, c2)
    runtime = choice.runtime_select(name, c4)
    limit = int(c3.number_input("Inputs", 1, prof.n, min(prof.n, 100),
                                key=f"w.limit.{name}", help="The first N test inputs (more: steadier, slower)."))
    key = (runtime, crit, thr, limit)
    if st.button("Run the benchmark", type="primary", key="w.bench"):
        try:
            st.session_state["bench"] = key, run_benchmark(runtime, crit, thr, limit)
        except ValueError as err:
            st.error(f"The benchmark could not run: {err}")
    stored = st.session_state.get("bench")
    if not stored or stored[0] != key:
        guesses = [bench_estimate(runtime, crit, thr, b, limit) for b in BATCHES]  # what the button runs
        st.info(f"Press “Run the benchmark” to time the real exits at this criterion and threshold: about "
                f"{sum(e.seconds for e in guesses):.0f} s (" + "; ".join(
                    f"batch {b}: {e.seconds:.0f} s from {e.basis}" for b, e in zip(BATCHES, guesses, strict=True))
                + ").")
        return
    results = stored[1]
    cols = st.columns(len(results))
    for col, r in zip(cols, results, strict=True):
        if r.noisy:
            col.metric(f"Batch {r.batch}: speedup measured (ms)", "noisy")
            col.warning(f"Noisy measurement, not a result: {r.noisy}.")
        else:
            col.metric(f"Batch {r.batch}: speedup measured (ms)", f"{r.realized_speedup:.2f}×")
        col.markdown(f"**{r.realized_over_ideal:.2f} of the ideal {r.ideal_speedup:.2f}× by MACs.** "
                     f"Median {r.ms_per_input_full:.3f} → {r.ms_per_input_exit:.3f} ms per input; mean exit "
                     f"{r.mean_exit + 1:.2f} (1 = first); the real exits equal the profile's on "
                     f"{r.profile_agreement:.1%} of {r.samples} inputs.")
    st.plotly_chart(plots.speedup_bars(results))


def text_model_ui(name: str) -> None:
    """A generating model: per generated token, layer by layer, and its KV cache."""
    from explorer.text_anatomy import anatomy, kv_bytes

    model = common.load_model(name)
    a = anatomy(model, common.test_profile(name))
    st.subheader("Architecture: per generated token, layer by layer")
    m = st.columns(4)
    m[0].metric("Parameters", f"{a.parameters:,}")
    m[1].metric("MACs per token, full model", f"{(sum(r.macs for r in a.layers) + a.head_macs) / 1e6:.2f} M")
    m[2].metric("ms per token, full model (batch 1)", f"{a.layers[-1].cumulative_ms:.3f}")
    m[3].metric("KV cache per token", f"{a.kv_bytes_per_token / 1024:.0f} KiB")
    table = pd.DataFrame({"layer": [r.index for r in a.layers], "parameters": [r.parameters for r in a.layers],
                          "MACs": [r.macs for r in a.layers], "ms": [r.ms for r in a.layers],
                          "leaving here, ms": [r.cumulative_ms for r in a.layers]})
    st.bar_chart(table, x="layer", y="ms", x_label="layer", y_label="ms per generated token (batch 1)")
    st.dataframe(table, hide_index=True, column_config={**FORMATS, "leaving here, ms": FORMATS["ms"]})
    heads = (f"{a.own_heads} heads of their own before the last (CALM-style), each {a.head_parameters:,} weights"
             if a.own_heads else f"one head, the model's own, read at every layer (LayerSkip): "
                                 f"{a.head_parameters:,} weights")
    st.caption(f"Exits: {heads}; a read costs {a.head_macs / 1e6:.2f} M MACs, {a.head_ms:.3f} ms. MACs: one per "
               "weight of each layer's matrices (attention over the cache left out: it grows with the position); "
               f"ms measured on this machine ({common.test_profile(name).meta.threads or '?'} threads) when the "
               "profile was made, after a 64-byte prompt. “Leaving here”: every layer up to it and one exit read.")
    st.subheader("KV-cache memory")
    rows = [{"batch": b, "positions": n, "KV cache": f"{kv_bytes(model, b, n) / 2 ** 20:.1f} MiB"}
            for b in (1, 8) for n in (a.context // 4, a.context)]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption("Every layer keeps keys and values for every position, whether a token left early or not: a later "
               "token attends to them at every layer. A token that exits early has its skipped layers' entries "
               "filled from its exited hidden state (CALM's state propagation: one projection per skipped layer, "
               "not the layer), so early exits save compute, not cache memory.")


name = choice.model_select("model")
if zoo.get(name).generates:
    text_model_ui(name)
    st.stop()
architecture_ui(name)
if zoo.get(name).head_views:
    shared_exit_ui(dict(zoo.get(name).head_views))
    shared_exit_memory_ui(dict(zoo.get(name).head_views))
memory_ui(name)
benchmark_ui(name)
