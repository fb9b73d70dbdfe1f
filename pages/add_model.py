"""Add a model: import a Hugging Face checkpoint (a folder written by save_pretrained, or a
hub id already downloaded) on a labelled data folder, with the `import` command's options.
The import runs in the library (`workspace.import_model`); this page draws one progress
bar per phase and the log. Folders are read only where the server allows it
(`explorer.server_paths`); otherwise the page gives the command line."""

import streamlit as st

from ui.frame import LOADING, page_frame

page_frame()  # the app's frame, also when Streamlit runs this page without the router
st.title("Add a model")  # drawn first: see ui.frame.LOADING
with st.spinner(LOADING):
    from explorer import imported, server_paths, user_model, zoo
    from explorer.errors import InputError
    from explorer.modality.image import SUFFIXES as IMAGE_SUFFIXES
    from explorer.workspace import EXIT_KINDS, PHASES, ImportOptions, import_model

PHASE_LABELS = {"loading": "Loading the model and the data folder",
                "features": "Reading the frozen backbone's features", "training": "Training the exit heads",
                "profiling": "Profiling every exit and timing real exits"}
LINKS = {"ctc": ("pages/live_speech.py", "Try it live"), "class": ("pages/live_image.py", "Try it live"),
         "generate": ("pages/live_text.py", "Generate with it live")}

st.caption("Bring a Hugging Face speech model (HubertForCTC, Wav2Vec2ForCTC, WavLMForCTC) or image classifier "
           "(ViTForImageClassification, ResNetForImageClassification) and a labelled folder: it gets real exits, is "
           "profiled on your data and then appears in every page's model menu, under “imported”. A causal LM "
           "(GPT-2, Llama, Qwen2, Mistral) with a folder of .txt files joins Live: text.")
ok, why = server_paths.allowed(st.get_option("server.address"))

with st.form("import"):
    c1, c2 = st.columns(2)
    source = c1.text_input("Model: a folder written by save_pretrained, or a downloaded hub id",
                           placeholder="/data/checkpoints/my-vit")
    data = c2.text_input("Data folder: one subfolder per class, LibriSpeech-style, or metadata.csv",
                         placeholder="/data/my-test-set")
    c3, c4, c5 = st.columns(3)
    name = c3.text_input("Name in the app", placeholder="my-vit")
    exits = c4.selectbox("Exits", EXIT_KINDS, help="final-head: the model's own head read after every layer (no "
                         "training); trained: a light head per layer from your labels; distilled: the same "
                         "without labels, each head learning the final exit's answers.")
    epochs = int(c5.number_input("Epochs (heads)", 1, 200, 5))
    c6, c7, c8 = st.columns(3)
    daisy = c6.checkbox("DAISY cluster heads (speech)")
    shared_exit = c7.checkbox("FreeML shared exit (images)")
    limit = int(c8.number_input("Limit (files, 0 = all)", 0, 10_000_000, 0))
    go = st.form_submit_button("Import", type="primary", disabled=not ok)

command = server_paths.command(source.strip(), data.strip(), name.strip(), exits, daisy, shared_exit, epochs, limit)
if not ok:
    st.info(why)
    st.code(command, language="bash")
    st.caption("Then reload this page: the imported model is in every page's model menu.")
else:
    st.caption(why)


def run_import() -> None:
    if not source.strip() or not data.strip() or not name.strip():
        st.error("Fill in the model, the data folder and a name.")
        return
    if user_model.is_user_source(source.strip()):
        st.error("Python model files (file.py:build) are loaded only from the command line, never from a web "
                 f"page: {command}")
        return
    bars = {p: st.progress(0.0, PHASE_LABELS[p]) for p in PHASES}
    log: list[str] = []
    shown = st.empty()

    def say(line: str) -> None:
        log.append(str(line))
        shown.code("\n".join(log[-200:]), language=None)

    def phase(p: str, f: float, what: str) -> None:
        bars[p].progress(min(max(f, 0.0), 1.0), f"{PHASE_LABELS[p]}: {what}")

    opts = ImportOptions(exits=exits, daisy=daisy, shared_exit=shared_exit, epochs=epochs, limit=limit)
    try:
        import_model(source.strip(), data.strip(), name.strip(), opts, say=say, phase=phase)
    except (ValueError, InputError, OSError) as err:  # InputError is a ValueError; OSError: a folder unreadable
        st.error(f"The import stopped: {err}")
        return
    st.session_state["add_model.done"] = name.strip()


if go and ok:
    run_import()

done = st.session_state.get("add_model.done")
if done and done in zoo.names():
    entry = zoo.get(done)
    task = imported.found(done)[0].task
    page, label = LINKS[task]
    if not entry.profiled:  # a text model: it generates, on Live: text only
        st.success(f"{done} is imported: {entry.title}. Choose it on Live: text.")
        st.page_link(page, label=label, icon="➡️")
    else:
        st.success(f"{done} is imported: {entry.title}. Choose it on any page.")
        l1, l2, l3 = st.columns(3)
        l1.page_link(page, label=label, icon="➡️")
        l2.page_link("pages/tradeoffs.py", label="Its accuracy–cost tradeoffs", icon="⚖️")
        l3.page_link("pages/model.py", label="Its cost, part by part", icon="🧱")

st.subheader("Imported models")
rows = [{"name": m.name, "architecture": m.architecture, "exits": m.exits, "task": m.task,
         "data": m.data.folder, "test files": m.data.files.get("test"), "imported": m.created}
        for m in imported.manifests()]
if rows:
    st.dataframe(rows, hide_index=True)
else:
    st.info(f"None yet. Data layouts: images {', '.join(sorted(IMAGE_SUFFIXES))} in class folders or with "
            "metadata.csv; speech in a LibriSpeech tree or with metadata.csv.")
