"""Tradeoffs: every criterion's quality against cost on a chosen evaluation set (clean,
unseen voices, each noise or corruption level), the threshold and where it is
recommended, other models overlaid (views of one backbone, compressed variants,
imported models), the inputs behind any point, and one input really exiting at it."""

from urllib.parse import urlencode

import streamlit as st

from ui.frame import LOADING, page_frame

page_frame()  # the app's frame, also when Streamlit runs this page without the router
st.title("Tradeoffs: what each criterion and threshold costs and saves")  # drawn first: see ui.frame.LOADING
with st.spinner(LOADING):
    from explorer import cached, compare, criteria, drilldown, plots, robustness, tradeoff, variants, zoo
    from explorer.audio import RATE
    from explorer.predict import is_right, predict_input
    from explorer.thresholds import default_eps_pt
    from ui import choice, common
    from ui.components.threshold_explorer import picked

SHOWN_INPUTS = 24  # inputs drawn at once behind a point (the count says how many there are)


def recommendation_ui(name: str, crit: str) -> None:
    st.subheader("Recommended threshold")
    q, calib_n = zoo.get(name).quality, common.calib_profile(name).n
    e1, e2, e3 = st.columns(3)
    eps = e1.number_input(f"ε for the empirical choice: {q.change_unit} at most", 0.0, 100.0,
                          default_eps_pt(name), 0.05, format="%.2f", key=f"w.eps.{name}",
                          help="Quality points against the full model, on the calibration split.")
    eps_ltt = e2.number_input("ε for Learn-then-Test: share of inputs whose answer changes (%)", 0.0, 100.0,
                              1.0, 0.1, format="%.2f", key=f"w.eps_ltt.{name}",
                              help="A share of inputs, not quality points: the early answer may differ from the "
                                   "full model's on at most this share of new inputs.")
    delta = e3.number_input("δ: the LTT guarantee may fail with probability at most δ", 0.01, 0.5, 0.1,
                            0.01, key=f"w.delta.{name}")
    rec, ltt = common.work(cached.recommendations, common.calib_profile(name), common.test_profile(name), crit,
                           float(eps), float(eps_ltt) / 100, float(delta))

    test = common.test_profile(name)
    full = q.from_error(test.exit_error(-1))

    def on_test(r) -> str:
        return (f"on the {test.n} test inputs: {q.label} {q.from_error(r.test.error_rate):.2%} "
                f"({q.against_full(r.test.drop_pt, full)}), {r.test.mac_speedup:.2f}× fewer MACs, "
                f"mean exit {r.test.mean_exit + 1:.2f} of {test.k}")

    r1, r2 = st.columns(2)
    r1.markdown(f"**Empirical: τ = {rec.threshold:.4g}** — the cheapest threshold within ε = {eps:.2f} "
                f"{q.change_unit} on the {calib_n} calibration inputs ({rec.calibration.drop_pt:.2f} there); "
                f"{on_test(rec)}. No guarantee on new inputs.")
    r1.button("Apply", key="w.apply", on_click=choice.set_threshold, args=(name, crit, rec.threshold),
              help="Move the threshold to the recommended threshold.")
    smallest = tradeoff.smallest_certifiable_eps(calib_n, float(delta))
    if ltt.certified:
        r2.markdown(f"**Learn-then-Test: τ = {ltt.threshold:.4g}** — the cheapest threshold LTT certifies on the "
                    f"{calib_n} calibration inputs (answers changed there: {ltt.calibration.disagreement:.2%}); "
                    f"{on_test(ltt)}.")
        r2.button("Apply the LTT threshold", key="w.apply_ltt", on_click=choice.set_threshold,
                  args=(name, crit, ltt.threshold))
    else:  # the outcome is "no early exit": its figures are the full model's, never a τ beyond the scores
        r2.markdown(f"**Learn-then-Test: no threshold can be certified** on {calib_n} calibration inputs at "
                    f"ε = {eps_ltt:.2f}%, δ = {delta:g}, so every input runs to the last exit: {on_test(ltt)}.")
    r2.caption(tradeoff.ltt_meaning(float(eps_ltt) / 100, float(delta))
               + f" With {calib_n} calibration inputs the smallest ε that can be certified at this δ is "
               f"{smallest:.2%} (and only with no changed answer at all).")
    shift_ui(name, crit, rec.threshold, float(eps))


def shift_ui(name: str, crit: str, thr: float, eps: float) -> None:
    """The empirical threshold on the clean test set and on every shifted set, and where it
    loses more than ε, the threshold the same ε picks there, one click away."""
    s = common.work(cached.shift_at, name, crit, float(thr), eps)
    if not s.shifted:
        return
    st.markdown(f"**Under distribution shift** — the empirical τ = {thr:.4g}, chosen on clean data, on each "
                f"held-out shifted set: {s.columns()}.")
    st.dataframe(s.rows(), hide_index=True)
    st.markdown(s.worst_sentence())
    if s.warning():
        st.warning(s.warning())
        for row in s.over_eps:  # one per row: each label whole at any width
            st.button(
                f"Apply τ = {row.own_threshold:.4g} (chosen on {row.label})", key=f"w.apply_shift.{row.key}",
                on_click=choice.set_threshold, args=(name, crit, row.own_threshold),
                help=f"The cheapest threshold within ε on {row.label} itself: {row.own_mac_speedup:.2f}× fewer "
                     "MACs there.")


def one_input_ui(name: str, crit: str, thr: float, key: str) -> None:
    st.subheader("One input of this evaluation set, really exiting")
    prof = common.eval_profile(name, key)
    i = int(st.number_input("Input #", 0, prof.n - 1, 0, key=f"w.input.{name}"))
    inputs, targets = eval_inputs(name, key)
    p = predict_input(name, inputs[i], crit, thr, timed=False)  # a slider move stays fast
    st.markdown(f"**Exit {p.exit_number} of {p.exits_total}** ({p.exit_names[p.exit]}): answer "
                f"{common.answer_line(p.answer, str(targets[i]), is_right(p, targets[i]))}, "
                f"{p.mac_share:.0%} of the full model's MACs. {p.timing_text()}")
    common.cautions(p)
    score_col = criteria.get(crit).score_column
    if score_col:
        st.plotly_chart(plots.per_exit(p.scores[score_col], list(p.exit_names), thr, p.exit, score_col))


def eval_inputs(name: str, key: str) -> tuple[list, list]:
    s = zoo.eval_set(name, key)
    return common.work(cached.eval_inputs, name, s.split, s.variant, common.test_profile(name))


def set_key(name: str, key: str) -> str:
    """`key` if the model has that evaluation set, else its clean test set."""
    return key if key in {s.key for s in zoo.eval_sets(name)} else zoo.get(name).test_split


def compared(names: list[str], key: str, cost: str) -> tuple:
    """Each model as the comparison takes it: on the evaluation set `key` where it has it,
    its noisy test sets where it has them, its measured memory on the memory axis."""
    out = []
    for n in names:
        entry, k = zoo.get(n), set_key(n, key)
        noisy = common.work(robustness.load_all, n) if entry.noise else None
        out.append(compare.Compared(
            n, entry.title, common.eval_profile(n, k), common.test_profile(n), entry.quality,
            zoo.eval_set(n, k).label, noisy, entry.noise,
            common.measured_memory(n) if cost == "memory_kb" else None))
    return tuple(out)


def single_view(name: str, crit: str, key: str, cost: str, log_x: bool, zoom: bool, thr: float):
    common.default_threshold_for(name, crit)  # its profiles, with a progress bar if missing
    return common.work(cached.tradeoff_view_of, name, common.eval_profile(name, key), common.test_profile(name),
                       crit, key, cost, log_x, zoom, thr)


def compare_view(models: tuple, crit: str, cost: str, log_x: bool, thr: float):
    return common.work(cached.compare_view, models, crit, cost, log_x,
                       cached.pinned(tuple(m.test for m in models), crit, thr))


def compare_table_ui(models: tuple, crit: str) -> None:
    st.subheader("Recommended thresholds, side by side")
    rows = []
    for m in models:
        eps = default_eps_pt(m.name)
        rec, ltt = common.work(cached.recommendations, common.calib_profile(m.name), m.test, crit, eps,
                               compare.LTT_EPS, compare.LTT_DELTA)
        rows.append((m, rec, ltt))
    st.dataframe(compare.recommended_table(rows), hide_index=True)
    st.caption(f"{criteria.get(crit).label}. Each threshold is chosen on the model's own calibration split (empirical: "
               "the cheapest within the model's default ε; Learn-then-Test: at most 1% of answers changed, δ = 0.1) "
               "and judged on its clean test split.")


def drilldown_ui(pick: drilldown.Pick | None, names: list[str], key: str) -> None:
    st.subheader("The inputs behind a point")
    if pick is None or pick.model not in names:
        st.caption("Click a point of a curve, or a bar of where inputs leave, to see the inputs behind it.")
        return
    name, k = pick.model, set_key(pick.model, key)
    if zoo.get(name).generates:
        st.caption(f"{zoo.get(name).title}: a point of its profile is one byte position inside a corpus window, "
                   "read with the window's bytes before it, not an input to open on its own. Generate with it on "
                   "Live: text to see exits byte by byte.")
        return
    prof, c = common.eval_profile(name, k), criteria.get(pick.criterion)
    show = choice.linked_select("Show", list(drilldown.SHOWS), "show", "all" if pick.exit is not None else "changed",
                                widget="radio", format_func=drilldown.SHOWS.get, horizontal=True)
    idx = drilldown.select(prof, c, pick.threshold, pick.exit, show)
    where = f", leaving at exit {pick.exit + 1} of {prof.k}" if pick.exit is not None else ""
    st.markdown(f"**{zoo.get(name).title}**, {c.label} at τ = {pick.threshold:.4g}{where}, on "
                f"{zoo.eval_set(name, k).label}: **{len(idx)} of {prof.n} inputs** ({drilldown.SHOWS[show]})"
                + (f"; the first {SHOWN_INPUTS} are shown." if len(idx) > SHOWN_INPUTS else "."))
    st.button("Clear the selection", key="w.unpick", on_click=choice.linked_text, args=("pick", ""))
    if not len(idx):
        return
    inputs, targets = eval_inputs(name, k)
    rows = drilldown.rows(prof, c, pick.threshold, idx[:SHOWN_INPUTS], common.load_model(name).describe, targets)
    live = next((p for p in ("live_image", "live_speech") if p in zoo.get(name).pages), None)
    if not live:
        st.caption(f"{zoo.get(name).title} has no live page: its inputs cannot be opened there.")
    cols = []
    for j, r in enumerate(rows):
        if j % 4 == 0:  # row by row, in the set's order
            cols = st.columns(4)
        col = cols[j % 4]
        kind, data = drilldown.media(inputs[r.index])
        if kind == "audio":
            col.audio(data, sample_rate=RATE)
        else:
            col.image(data, width=96, clamp=True)
        score = f" · score {r.score:.3g}" if r.score is not None else ""
        mark = "✓ right" if r.right else "✗ wrong"
        col.markdown(f"**#{r.index}** · exit {r.exit + 1}: **{r.answer}** ({mark}) · final: {r.final} · "
                     f"true: {r.truth}{score}")
        if live:
            col.markdown(f"[Open on the live page]({live}?{urlencode({'model': name, 'input': f'{k}:{r.index}'})})")


@st.fragment
def explore(name: str, crit: str, key: str, others: list[str]) -> None:
    """Everything that only the threshold, the cost axis and a click on a figure move:
    re-runs alone, and only when the slider is let go (the browser moves the figures and
    metrics meanwhile)."""
    axes = compare.COSTS if others else plots.COST_AXES
    c1, c2 = st.columns([3, 1])
    cost = choice.linked_select("Cost axis", list(axes), "cost", cached.DEFAULT_COST, c1, widget="radio",
                                format_func=axes.get, horizontal=True)
    log_x = choice.linked_toggle("Log scale", "log", cached.DEFAULT_LOG_X, c2,
                                 help="Spread out the cheap end, where most adaptive behaviour sits; drag on the "
                                      "chart to zoom, double-click to reset.")
    zoom = not others and choice.linked_toggle(
        "Zoom to the knee", "knee", cached.DEFAULT_ZOOM, c2,
        help="Show where the criteria differ: from the cheapest point to just past where the best curve reaches "
             "the full model's quality (beyond it every curve runs flat). Off: every point.")
    models = compared([name, *others], key, cost) if others else ()
    view_at = ((lambda t: compare_view(models, crit, cost, log_x, t)) if others else
               (lambda t: single_view(name, crit, key, cost, log_x, zoom, t)))
    thr = choice.threshold_explorer(name, crit, view_at)
    click = picked(choice.explorer_key(name, crit))
    if click:
        at = drilldown.Pick(click.get("model") or name, click.get("criterion") or crit, float(click["threshold"]),
                            int(click["point"]) if click["panel"] == "exits" else None)
        choice.linked_text("pick", at.link())
        choice.forget("show")  # a new selection starts with its own filter
    common.figure_downloads(view_at(thr), thr, "tradeoffs")
    if not others:
        verdict = common.work(cached.verdict, common.eval_profile(name, key))
        if verdict:
            st.info(verdict)
        recommendation_ui(name, crit)
    else:
        compare_table_ui(models, crit)
    link = choice.linked_text("pick", check=drilldown.Pick.from_link)
    drilldown_ui(drilldown.Pick.from_link(link) if link else None, [name, *others], key)
    if not zoo.get(name).generates:
        one_input_ui(name, crit, thr, key)


name = choice.model_select("tradeoffs")  # a row of its own: every model's title whole
c2, c3 = st.columns(2)
crit = choice.criterion_select(name, common.causal_criteria(name), c2)
sets = zoo.eval_sets(name)
labels = {s.key: s.label for s in sets}
key = choice.linked_select("Evaluation set", list(labels), "eval", where=c3, format_func=labels.get,
                           help="Thresholds are always chosen on the calibration split; this picks where they "
                                "are judged: the clean test set, unseen voices, or a noise or corruption level, "
                                "where the tradeoffs are real.")
others = choice.linked_multiselect(
    "Compare with", [n for n in zoo.names("tradeoffs") if n != name], "vs",
    format_func=lambda n: zoo.get(n).title,
    help="Other models on the same chart under this criterion and one threshold: views of one backbone (one head "
         "per exit against a shared exit), training strategies (the image model trained jointly, in two stages or "
         "self-distilled), compressed variants, imported models. Each is judged on this evaluation set where it has "
         "it, else on its clean test set.")
cannot = [n for n in others if crit not in common.causal_criteria(n)]
if cannot:
    st.warning(f"{', '.join(zoo.get(n).title for n in cannot)} cannot use {crit}: left out of the comparison.")
others = [n for n in others if n not in cannot]
if not variants.of(name) and not zoo.get(name).generates:  # compress serves models the engine runs
    st.caption(f"No compressed variant of this model yet: make one with `python -m explorer compress {name} "
               "--method int8` (or `--method prune --ratio 0.5` for the image model), then compare them here.")
st.download_button("Download the sweep as CSV (every criterion × threshold on this evaluation set)",
                   lambda prof=common.eval_profile(name, key): cached.sweep_csv(prof),  # written when clicked
                   f"sweep-{name}-{key}.csv", "text/csv", on_click="ignore")
explore(name, crit, key, others)
