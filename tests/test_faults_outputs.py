"""Outputs never clobber (issue 30): `bench anonymize` and `bench export` refuse, in one line
with exit code 2, an output that exists (without --overwrite), equals an input or another
output, or lies in the results store; they clean the temps a killed run of theirs left; and
hostile arguments (a FIFO, an empty path, --device mps, --sigma 1e308, a sweep file nested
5,000 deep, a results dir whose parts are files) are one-line errors, never a traceback, a
hang or a silently empty answer.

Every test runs the real CLI on real files in a temp dir and checks what is on disk after:
the user's file byte for byte, nothing created. The videos are a few frames of 32x24 and
the method is the fixed blur, so nothing trains (but the one test that exports a real fit).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.contract.atomic import HOST, temp_path
from bench.data.sample_trees import synthetic_frames
from bench.deployment.fit_catalog import stored_fits
from bench.store.results import ResultsStore

runner = CliRunner()
BLUR = ["--method", "blur", "--region", "frame", "--device", "cpu"]


def bench(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "240"})
    return result.exit_code, result.output


def one_error(code: int, out: str, *words: str) -> None:
    """Exit code 2 and one `error:` line that names every one of `words`; no traceback."""
    assert code == 2, out
    assert "Traceback" not in out and out.count("error:") == 1, out
    line = next(x for x in out.splitlines() if "error:" in x)
    for word in words:
        assert word in line, (word, out)


def video(path: Path, frames: int = 3) -> Path:
    """A real H.264 video of `frames` rendered 32x24 frames."""
    pixels = synthetic_frames(1, frames, 32, 24)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv444p"
        for frame in pixels:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def snapshot(*paths: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths}


def unchanged(before: dict[Path, bytes]) -> bool:
    return all(p.read_bytes() == data for p, data in before.items())


def frame_count(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def planted_store(root: Path) -> tuple[Path, Path, Path]:
    """A results dir holding a fit's two files and a record (their bytes are what matters)."""
    fit = root / "fits" / "0123abcd"
    fit.mkdir(parents=True)
    (fit / "anonymizer.pt").write_bytes(b"the stored fA* checkpoint")
    (fit / "fit.json").write_text('{"run": "k"}')
    (root / "records").mkdir()
    record = root / "records" / "k.json"
    record.write_text('{"key": "k"}')
    return fit / "anonymizer.pt", fit / "fit.json", record


# --- bench anonymize -------------------------------------------------------------------


def test_anonymize_keeps_an_existing_file_unless_overwrite(tmp_path: Path) -> None:
    """`anonymize v/clip.avi --out v` used to replace the user's own v/clip.mp4."""
    source = video(tmp_path / "v" / "clip.avi")
    mine = tmp_path / "v" / "clip.mp4"
    mine.write_bytes(b"the user's own clip.mp4")
    kept = snapshot(source, mine)
    code, out = bench("anonymize", str(source), "--out", str(tmp_path / "v"), *BLUR)
    one_error(code, out, str(mine), "existing file", "--overwrite")
    assert unchanged(kept)
    code, out = bench("anonymize", str(source), "--out", str(tmp_path / "v"), "--overwrite", *BLUR)
    assert code == 0, out
    assert frame_count(mine) == 3 and source.read_bytes() == kept[source]


def test_a_preview_never_overwrites_an_input(tmp_path: Path) -> None:
    """`anonymize v/a.mp4 v/a-preview.png --out v --preview` overwrote the image, then
    "anonymized" the strip; --overwrite does not allow it either."""
    source = video(tmp_path / "v" / "a.mp4")
    image = tmp_path / "v" / "a-preview.png"
    image.write_bytes(b"\x89PNG the user's image")
    kept = snapshot(source, image)
    for extra in ([], ["--overwrite"]):
        code, out = bench("anonymize", str(source), str(image), "--out", str(tmp_path / "v"),
                          "--preview", "--lossless", *extra, *BLUR)  # fmt: skip
        one_error(code, out, "the preview of", str(image), "is an input")
        assert unchanged(kept)
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == ["a-preview.png", "a.mp4"]


def test_an_output_that_is_an_input_by_another_name_is_refused(tmp_path: Path) -> None:
    """The output o/b.mp4 is a hard link to the input in/b.mkv... and in/c.mp4 is a symlink to
    the input in/a.mp4: every output is compared with every input as a file, not a name."""
    first = video(tmp_path / "in" / "a.mp4")
    second = video(tmp_path / "in" / "b.mkv")
    (tmp_path / "o").mkdir()
    os.link(second, tmp_path / "o" / "a.mp4")  # a's output is the file of input b
    kept = snapshot(first, second)
    code, out = bench("anonymize", str(first), str(second), "--out", str(tmp_path / "o"),
                      "--overwrite", *BLUR)  # fmt: skip
    one_error(code, out, "the output of", "a.mp4", "is an input")
    assert unchanged(kept)
    link = tmp_path / "in" / "link"
    link.symlink_to(tmp_path / "in")
    code, out = bench("anonymize", str(first), "--out", str(link), "--overwrite", *BLUR)
    one_error(code, out, "is an input")
    assert unchanged(kept)
    # two inputs, one output name: refused before anything is written
    video(tmp_path / "in2" / "x.mp4")
    video(tmp_path / "in2" / "x.avi")
    code, out = bench("anonymize", str(tmp_path / "in2"), "--out", str(tmp_path / "o2"), *BLUR)
    one_error(code, out, "would both be written to")
    assert not (tmp_path / "o2").exists()


def test_anonymize_never_writes_into_the_results_store(tmp_path: Path) -> None:
    checkpoint, log, record = planted_store(tmp_path / "results")
    kept = snapshot(checkpoint, log, record)
    source = video(tmp_path / "clip.mp4")
    (tmp_path / "store-link").symlink_to(tmp_path / "results" / "fits")
    for out in (tmp_path / "results" / "runs" / "x", tmp_path / "results" / "records",
                tmp_path / "store-link" / "0123abcd"):  # fmt: skip
        code, text = bench("anonymize", str(source), "--out", str(out), "--overwrite",
                           "--results-dir", str(tmp_path / "results"), *BLUR)  # fmt: skip
        one_error(code, text, "inside the results store")
        assert unchanged(kept)
    assert not (tmp_path / "results" / "runs").exists()
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["anonymizer.pt", "fit.json"]
    # the store named by $BENCH_RESULTS_DIR is protected the same way
    result = runner.invoke(app, ["anonymize", str(source), "--out", str(tmp_path / "results" / "locks"), *BLUR],
                           env={"COLUMNS": "240", "BENCH_RESULTS_DIR": str(tmp_path / "results")})  # fmt: skip
    one_error(result.exit_code, result.output, "inside the results store")
    assert not (tmp_path / "results" / "locks").exists()


def test_a_killed_anonymize_leaves_no_temp_for_ever(tmp_path: Path) -> None:
    """A killed `bench anonymize` leaves `.clip.mp4.HOST.PID.RANDOM.tmp` in --out; the next
    call removes it (its writer is dead), but not a live writer's temp nor the user's own
    `*.part` / `.*.tmp` files, however old."""
    source = video(tmp_path / "in" / "clip.mp4")
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = out / f".clip.mp4.{HOST}.{int(dead.stdout)}.0123abcd.tmp"
    stale_preview = out / f".old-preview.png.{HOST}.{int(dead.stdout)}.89abcdef.tmp"
    live = temp_path(out / "other.mp4")  # this process is alive: a writer at work
    users = [out / "download.mp4.part", out / ".notes.tmp",  # old: temp-like, not bench's
             out / f".report.txt.{HOST}.{int(dead.stdout)}.0123abcd.tmp"]  # fmt: skip
    for path in (stale, stale_preview, live, *users):
        path.write_bytes(b"partial")
    day_ago = time.time() - 86400 * 2
    for path in users:
        os.utime(path, (day_ago, day_ago))
    code, text = bench("anonymize", str(source), "--out", str(out), *BLUR)
    assert code == 0, text
    assert "removed 2 temp file(s)" in " ".join(text.split())
    assert not stale.exists() and not stale_preview.exists()
    assert live.exists() and all(p.read_bytes() == b"partial" for p in users)
    assert (out / "clip.mp4").is_file()


@contextlib.contextmanager
def released(fifo: Path, after: float = 20.0) -> Iterator[None]:
    """Inside the block, a reader that opened `fifo` (the regression: `bench` waiting on it
    for ever) gets end-of-file after `after` seconds, so the test fails instead of hanging."""
    stop = threading.Event()

    def release() -> None:
        deadline = time.monotonic() + after
        while not stop.wait(0.2):
            if time.monotonic() > deadline:
                with contextlib.suppress(OSError):  # ENXIO: nobody reads it
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_non_regular_inputs_are_refused_not_read_for_ever(tmp_path: Path) -> None:
    """A FIFO blocked `bench anonymize` (and `export --frames`) for ever."""
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    folder = tmp_path / "videos"
    video(folder / "ok.mp4")
    os.mkfifo(folder / "stream.mp4")
    for args, words in (
        (["anonymize", str(fifo), "--out", str(tmp_path / "o"), *BLUR], ["FIFO", str(fifo)]),
        (["anonymize", str(folder), "--out", str(tmp_path / "o"), *BLUR], ["FIFO", "stream.mp4"]),
        (["anonymize", "/dev/null", "--out", str(tmp_path / "o"), *BLUR], ["/dev/null", "device"]),
        (["export", "--fit", "0123", "--frames", str(fifo), "--out", str(tmp_path / "fa.pt"),
          "--format", "torchscript", "--results-dir", str(tmp_path / "r")], ["--frames", "FIFO"]),
    ):  # fmt: skip
        with released(fifo), released(folder / "stream.mp4"):
            code, out = bench(*args)
        one_error(code, out, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.mp4", "videos"]


def test_an_empty_path_is_refused_not_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bench anonymize ""` anonymized every video of the current folder."""
    monkeypatch.chdir(tmp_path)
    video(tmp_path / "here.mp4")
    code, out = bench("anonymize", "", "--out", "o", *BLUR)
    one_error(code, out, "input argument is empty")
    code, out = bench("anonymize", "here.mp4", "--out", "", *BLUR)
    one_error(code, out, "--out is empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here.mp4"]


@pytest.mark.parametrize(
    ("device", "words"),
    [
        ("mps", ["device 'mps'", "auto, cpu, cuda or cuda:N"]),
        ("meta", ["device 'meta' is not supported", "auto, cpu, cuda or cuda:N"]),
        ("cuda:x", ["unknown device 'cuda:x'"]),
        ("cpu:0", ["device 'cpu:0' is not supported"]),
        ("cuda:99", ["device 'cuda:99' requested"]),
    ],
)
def test_devices_other_than_cpu_and_cuda_are_one_line(
    tmp_path: Path, device: str, words: list[str]
) -> None:
    """--device mps / meta were tracebacks half-way through (anonymize and run alike)."""
    if device == "mps" and not torch.backends.mps.is_built():
        words = [*words, "no MPS support"]
    source = video(tmp_path / "clip.mp4")
    code, out = bench("anonymize", str(source), "--out", str(tmp_path / "o"),
                      "--method", "blur", "--region", "frame", "--device", device)  # fmt: skip
    one_error(code, out, *words)
    code, out = bench("run", "--method", "raw", "--device", device, "--results-dir",
                      str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"))  # fmt: skip
    one_error(code, out, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


@pytest.mark.parametrize(
    ("option", "words"),
    [
        (["--sigma", "1e308"], ["--sigma=1e308", "<= 1000"]),
        (["--kernel", "1e308"], ["--kernel=1e308", "<= 6001"]),
        (["--margin", "1e308"], ["--margin=1e308", "<= 4096"]),
        (["--sigma", "1e-320"], ["--sigma=1e-320", "> 0.01"]),  # 0 in float32: kornia's error
    ],
)
def test_blur_parameters_have_a_finite_range(
    tmp_path: Path, option: list[str], words: list[str]
) -> None:
    """--sigma 1e308 was an OverflowError traceback (and 1e-320 one of kornia's)."""
    source = video(tmp_path / "clip.mp4")
    code, out = bench("anonymize", str(source), "--out", str(tmp_path / "o"), *BLUR, *option)
    one_error(code, out, *words)
    assert not (tmp_path / "o").exists()


# --- bench export ------------------------------------------------------------------------


def test_export_never_writes_into_the_results_store(tmp_path: Path) -> None:
    """`export --out results/fits/K/anonymizer.pt` replaced the stored fit (every later use
    called it unreadable and retrained it); `--out results/records/K.json` a record."""
    results = tmp_path / "results"
    checkpoint, log, record = planted_store(results)
    kept = snapshot(checkpoint, log, record)
    (tmp_path / "link").symlink_to(results)
    for target in (checkpoint, record, results / "runs" / "new.onnx",
                   tmp_path / "link" / "fits" / "0123abcd" / "fit.json"):  # fmt: skip
        for extra in ([], ["--overwrite"]):
            code, out = bench("export", "--fit", "0123abcd", "--format", "torchscript",
                              "--out", str(target), "--results-dir", str(results), *extra)  # fmt: skip
            one_error(code, out, "inside the results store", str(target))
            assert unchanged(kept)
    assert not (results / "runs").exists()
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["anonymizer.pt", "fit.json"]


def test_export_never_overwrites_its_frames_video(tmp_path: Path) -> None:
    """`export ... --out v.mp4 --frames v.mp4` overwrote the verification video."""
    clip = video(tmp_path / "v.mp4")
    kept = snapshot(clip)
    for extra in ([], ["--overwrite"]):
        code, out = bench("export", "--fit", "0123", "--format", "torchscript", "--out",
                          str(clip), "--frames", str(clip), "--results-dir",
                          str(tmp_path / "r"), *extra)  # fmt: skip
        one_error(code, out, "is the --frames video")
        assert unchanged(kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


@pytest.mark.xdist_group("penalty_run")  # with test_anonymize's users of the shared run
def test_export_of_a_real_fit_keeps_existing_files_unless_overwrite(
    penalty_run: tuple[Path, str], tmp_path: Path
) -> None:
    results = penalty_run[0]
    (fit,) = stored_fits(ResultsStore(results), print)
    stored = snapshot(*(p for p in fit.folder.iterdir() if p.is_file()))
    target = tmp_path / "fa.pt"
    target.write_bytes(b"an older model of the user's")
    card = tmp_path / "fa.pt.card.json"
    args = ["export", "--fit", fit.key, "--format", "torchscript", "--out", str(target),
            "--results-dir", str(results)]  # fmt: skip
    code, out = bench(*args)
    one_error(code, out, str(target), "--overwrite")
    assert target.read_bytes() == b"an older model of the user's" and not card.exists()
    target.unlink()
    card.write_text("the user's notes")  # the card alone exists: refused too
    code, out = bench(*args)
    one_error(code, out, "model card", str(card))
    assert card.read_text() == "the user's notes" and not target.exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".fa.pt.{HOST}.{int(dead.stdout)}.0123abcd.tmp"  # a killed export's
    stale.write_bytes(b"partial")
    code, out = bench(*args, "--overwrite")
    assert code == 0, out
    assert torch.jit.load(str(target)) is not None and '"fit_key"' in card.read_text()
    assert not stale.exists()
    assert unchanged(stored)  # and the stored fit is still the one `bench run` wrote
    (again,) = stored_fits(ResultsStore(results), print)
    assert again.key == fit.key and again.anonymizer() is not None


# --- results dirs, report, sweep files -------------------------------------------------


def test_a_results_dir_that_is_a_file_or_has_a_file_for_records(tmp_path: Path) -> None:
    """`bench table` printed an empty table when records/ was a file; `bench fits` said "no
    stored fA*" for a results dir that is a file. Both are errors now."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "records").write_text("not a folder")
    code, out = bench("table", "1", "--results-dir", str(broken))
    one_error(code, out, str(broken / "records"), "is a file, not a folder")
    assert "Table" not in out
    code, out = bench("report", "--results-dir", str(broken))
    one_error(code, out, "is a file, not a folder")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    for command in (["fits"], ["table", "1"], ["anonymize", str(video(tmp_path / "c.mp4")),
                                                 "--out", str(tmp_path / "o"), *BLUR]):  # fmt: skip
        code, out = bench(*command, "--results-dir", str(plain))
        one_error(code, out, str(plain), "is a file, not a folder")
        assert "no stored fA*" not in out
    assert plain.read_text() == "x" and (broken / "records").read_text() == "not a folder"
    assert not (tmp_path / "o").exists()


def test_report_where_its_folders_are_files(tmp_path: Path) -> None:
    """`bench report` raised FileExistsError when <results>/tables was a file."""
    results = tmp_path / "results"
    (results / "records").mkdir(parents=True)
    for name in ("tables", "figures"):
        (results / name).write_text("the user's notes")
        code, out = bench("report", "--results-dir", str(results))
        one_error(code, out, str(results / name), "is a file, not a folder")
        assert (results / name).read_text() == "the user's notes"
        assert not (results / "report.md").exists()
        (results / name).unlink()
    (results / "report.md").mkdir()
    code, out = bench("report", "--results-dir", str(results))
    one_error(code, out, "report.md", "is a folder")
    code, out = bench("report", "--results-dir", str(results), "--out", str(results / "fits"))
    one_error(code, out, "inside the results store")
    (tmp_path / "plain").write_text("x")
    code, out = bench("figure", "pareto", "--results-dir", str(results), "--out",
                      str(tmp_path / "plain"))  # fmt: skip
    one_error(code, out, str(tmp_path / "plain"), "is a file, not a folder")
    assert (tmp_path / "plain").read_text() == "x"


def test_a_sweep_file_nested_too_deeply_is_invalid_toml(tmp_path: Path) -> None:
    """5,000 nested `[` made the TOML parser raise RecursionError (a traceback)."""
    deep = tmp_path / "deep.toml"
    deep.write_text("seed = " + "[" * 5000 + "]" * 5000 + "\n")
    code, out = bench("sweep", str(deep), "--results-dir", str(tmp_path / "r"))
    one_error(code, out, f"sweep file '{deep}' is not valid TOML", "nested too deeply")
    assert not (tmp_path / "r").exists()


def test_an_existing_output_is_replaced_with_overwrite_only_where_it_is_ours(
    tmp_path: Path,
) -> None:
    """--overwrite replaces what the call writes (its video and preview), nothing else: the
    second run into the same folder needs it, and the result is a fresh, whole output."""
    source = video(tmp_path / "in" / "clip.mp4", frames=4)
    out = tmp_path / "out"
    args = ["anonymize", str(source), "--out", str(out), "--preview", *BLUR]
    code, text = bench(*args)
    assert code == 0, text
    first = snapshot(out / "clip.mp4", out / "clip-preview.png")
    code, text = bench(*args)
    one_error(code, text, str(out / "clip.mp4"), "--overwrite")
    assert unchanged(first)
    code, text = bench(*args, "--overwrite")
    assert code == 0, text
    assert frame_count(out / "clip.mp4") == 4
    assert sorted(p.name for p in out.iterdir()) == ["clip-preview.png", "clip.mp4"]
