"""Using a trained anonymizer outside `bench run`: `bench fits`, `bench anonymize` on real
encoded video files, and `bench export` to ONNX / TorchScript, through the CLI with a real
fA* trained (short schedule) into a temp store."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import bench as bench_api
from bench.cli import app
from bench.contract.context import autocast
from bench.data.sample_trees import synthetic_frames
from bench.deployment.anonymizers import PaddedAnonymizer
from bench.deployment.fit_catalog import stored_fits
from bench.deployment.video_files import has_encoder
from bench.store.results import ResultsStore
from tests.conftest import PENALTY_RUN

runner = CliRunner()
pytestmark = pytest.mark.xdist_group("penalty_run")  # with test_cli's user of the shared run


def bench(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "240"})
    return result.exit_code, result.output


def write_video(path: Path, frames: np.ndarray, fps: int = 25, codec: str = "libx264") -> Path:
    """Encode RGB uint8 (T, H, W, 3) frames (yuv444p H.264 keeps odd sizes; ffv1 is exact)."""
    fmt, pix = ("matroska", "bgr0") if codec == "ffv1" else ("mp4", "yuv444p")
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def decode(path: Path) -> tuple[np.ndarray, float]:
    """Every frame as RGB uint8 (T, H, W, 3), and the stream's average rate."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(stream)])
        return frames, float(stream.average_rate)


@pytest.fixture(scope="module")
def trained(penalty_run: tuple[Path, str]) -> Path:
    """A results dir holding one penalty fA* (and its known-protocol records)."""
    return penalty_run[0]


def the_fit(results: Path) -> str:
    (fit,) = stored_fits(ResultsStore(results), print)
    return fit.key


def test_fits_lists_the_fit_with_its_config_and_metrics(trained: Path) -> None:
    key = the_fit(trained)
    code, out = bench("fits", "--results-dir", str(trained))
    assert code == 0, out
    assert key in out and "penalty" in out and "B=0.3" in out and "synthetic" in out
    assert "known: action_top1=" in out
    code, one = bench("fits", key[:5], "--results-dir", str(trained))
    assert code == 0 and f"fit {key}" in one and "history: minimax" in one
    # the options that trained it address it too; other options address nothing stored
    code, same = bench("fits", "--method", "penalty", "--B", "0.3", *PENALTY_RUN,
                       "--results-dir", str(trained))  # fmt: skip
    assert code == 0 and f"fit {key}" in same
    code, none = bench("fits", "--method", "penalty", "--B", "0.5", *PENALTY_RUN,
                       "--results-dir", str(trained))  # fmt: skip
    assert code == 2 and "no stored fA* for these options" in none
    code, bad = bench("fits", "zz", "--results-dir", str(trained))
    assert code == 2 and "hexadecimal" in bad and "Traceback" not in bad


def test_anonymize_a_video_end_to_end(trained: Path, tmp_path: Path) -> None:
    key = the_fit(trained)
    frames = synthetic_frames(3, 12, 48, 36)
    source = write_video(tmp_path / "clip.mp4", frames, fps=15, codec="ffv1")
    code, out = bench("anonymize", str(source), "--fit", key, "--out", str(tmp_path / "out"),
                      "--results-dir", str(trained), "--lossless", "--resolution", "native",
                      "--preview", "--batch", "5", "--device", "cpu")  # fmt: skip
    assert code == 0, out
    assert "1 anonymized, 0 skipped" in out
    result, rate = decode(tmp_path / "out" / "clip.mkv")
    assert result.shape == frames.shape and rate == 15
    (fit,) = stored_fits(ResultsStore(trained), print)
    fa = PaddedAnonymizer(fit.anonymizer())
    with torch.no_grad(), autocast(torch.device("cpu"), fit.preset.precision):  # as measured
        direct = fa(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255).float()
    expected = direct.mul(255).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    assert np.array_equal(result, expected)  # FFV1 is exact: the file holds fA*(frame)
    assert (result != frames).mean() > 0.5  # and fA* changed most pixels
    assert (tmp_path / "out" / "clip-preview.png").is_file()


def test_odd_sizes_default_codec_and_a_corrupt_input(trained: Path, tmp_path: Path) -> None:
    key = the_fit(trained)
    inputs = tmp_path / "in"
    inputs.mkdir()
    frames = synthetic_frames(4, 9, 45, 31)  # odd sizes: padded for the UNet++, cropped back
    write_video(inputs / "odd.mp4", frames, fps=24)
    (inputs / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    write_video(inputs / "even.mp4", synthetic_frames(5, 6, 64, 48), fps=25)
    code, out = bench("anonymize", str(inputs), "--fit", key, "--out", str(tmp_path / "out"),
                      "--results-dir", str(trained), "--device", "cpu")  # fmt: skip
    assert code == 1, out  # something was skipped
    assert "2 anonymized, 1 skipped" in out and "skipped" in out and "broken.mp4" in out
    assert "Traceback" not in out
    odd, rate = decode(tmp_path / "out" / "odd.mp4")
    assert odd.shape == frames.shape and rate == 24
    even, _ = decode(tmp_path / "out" / "even.mp4")
    assert even.shape == (6, 48, 64, 3)
    assert not (tmp_path / "out" / "broken.mp4").exists()
    assert not list((tmp_path / "out").glob(".*.tmp"))  # no half-written file is left
    codec = "h264" if has_encoder("libx264") else "mpeg4"
    with av.open(str(tmp_path / "out" / "odd.mp4")) as c:
        assert c.streams.video[0].codec_context.name == codec


def test_fixed_methods_anonymize_the_same_way(tmp_path: Path) -> None:
    frames = synthetic_frames(6, 5, 40, 30)
    source = write_video(tmp_path / "v.mkv", frames, codec="ffv1")
    code, out = bench("anonymize", str(tmp_path / "*.mkv"), "--method", "blur", "--region", "frame",
                      "--out", str(tmp_path / "out"), "--lossless", "--resolution", "native",
                      "--results-dir", str(tmp_path / "r"))  # fmt: skip
    assert code == 0, out
    blurred, _ = decode(tmp_path / "out" / "v.mkv")
    assert blurred.shape == frames.shape
    assert np.abs(blurred.astype(int) - frames).mean() > 1  # blurred, not copied
    assert (
        np.abs(np.diff(blurred.astype(int), axis=2)).mean()
        < np.abs(np.diff(frames.astype(int), axis=2)).mean()
    )  # smoother along rows
    code, out = bench("anonymize", str(source), "--method", "oracle", "--out", str(tmp_path / "o"))
    assert code == 2 and "cannot anonymize footage" in out
    (tmp_path / "a-file").write_text("x")
    code, out = bench(
        "anonymize", str(source), "--method", "raw", "--out", str(tmp_path / "a-file")
    )
    assert code == 2 and "is a file" in out and "Traceback" not in out
    code, out = bench("anonymize", str(tmp_path / "nothing-*.mp4"), "--method", "raw", "--out",
                      str(tmp_path / "o"))  # fmt: skip
    assert code == 2 and "no such file, folder or matching pattern" in out


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_round_trip_equals_torch(trained: Path, tmp_path: Path, fmt: str) -> None:
    pytest.importorskip("onnxruntime") if fmt == "onnx" else None
    key = the_fit(trained)
    target = tmp_path / f"fa.{'onnx' if fmt == 'onnx' else 'pt'}"
    code, out = bench("export", "--fit", key, "--format", fmt, "--out", str(target),
                      "--results-dir", str(trained))  # fmt: skip
    assert code == 0, out
    card = json.loads(target.with_name(target.name + ".card.json").read_text())
    assert card["fit_key"] == key and card["input"]["layout"] == "NCHW"
    assert card["verification"]["max_abs_diff"] <= card["verification"]["tolerance"]
    assert card["metrics"] and card["metrics"][0]["protocol"] == "known"
    model = bench_api.load_anonymizer(key[:6], results_dir=trained)  # the Python API's
    x = torch.from_numpy(synthetic_frames(9, 3, 37, 29)).permute(0, 3, 1, 2).float() / 255
    if fmt == "onnx":
        from bench.deployment.export import onnx_runner

        got = onnx_runner(target)(x)
    else:
        got = torch.jit.load(str(target))(x)
    with torch.no_grad():
        assert (got - model(x)).abs().max() <= 1e-4
    # the same fA* by the options that trained it
    same = bench_api.load_anonymizer(method="penalty", results_dir=trained, B=0.3,
                                     settings=dict(a.split("=", 1) for a in PENALTY_RUN[1::2]))  # fmt: skip
    with torch.no_grad():
        assert torch.equal(same(x), model(x))


def test_a_frame_size_change_mid_stream_is_rescaled_and_said(tmp_path: Path) -> None:
    """Two MPEG-TS files of different sizes, joined (a broadcast-style resolution change):
    every decoded frame is written at the first frame's size, and the output line says so."""

    def ts(path: Path, frames: np.ndarray) -> bytes:
        with av.open(str(path), "w", format="mpegts") as out:
            stream = out.add_stream("mpeg2video", rate=Fraction(25))
            stream.width, stream.height, stream.pix_fmt = (
                frames.shape[2],
                frames.shape[1],
                "yuv420p",
            )
            for frame in frames:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            out.mux(stream.encode(None))
        return path.read_bytes()

    joined = tmp_path / "joined.ts"
    joined.write_bytes(ts(tmp_path / "a.ts", synthetic_frames(0, 5, 64, 48))
                       + ts(tmp_path / "b.ts", synthetic_frames(1, 4, 48, 32)))  # fmt: skip
    with av.open(str(joined)) as c:
        sizes = [(f.width, f.height) for f in c.decode(video=0)]
    assert {(64, 48), (48, 32)} <= set(sizes)  # the fixture does change size
    code, out = bench("anonymize", str(joined), "--method", "raw", "--out", str(tmp_path / "o"),
                      "--lossless", "--resolution", "native")  # fmt: skip
    assert code == 0, out
    assert "rescaled to the first frame's" in " ".join(out.split())
    result, _ = decode(tmp_path / "o" / "joined.mkv")
    assert result.shape == (len(sizes), 48, 64, 3)


def test_fixed_methods_act_at_the_source_size_by_default(tmp_path: Path) -> None:
    """`--factor 4` on a 64x48 video is a 4x downsampling (16x12), not the preset's 16 px;
    the first line says which size; `--resolution trained` gives the benchmark's size."""
    frames = synthetic_frames(3, 5, 64, 48)
    source = write_video(tmp_path / "v.mkv", frames, codec="ffv1")
    common = ("--method", "downsample", "--factor", "4", "--lossless",
              "--results-dir", str(tmp_path / "r"))  # fmt: skip
    code, out = bench("anonymize", str(source), "--out", str(tmp_path / "auto"), *common)
    assert code == 0, out
    assert "at the source size (--resolution to change)" in " ".join(out.split())
    code, out = bench("anonymize", str(source), "--out", str(tmp_path / "native"),
                      "--resolution", "native", *common)  # fmt: skip
    assert code == 0, out
    auto, _ = decode(tmp_path / "auto" / "v.mkv")
    native, _ = decode(tmp_path / "native" / "v.mkv")
    assert np.array_equal(auto, native)
    code, out = bench("anonymize", str(source), "--out", str(tmp_path / "trained"),
                      "--resolution", "trained", *common)  # fmt: skip
    assert code == 0 and "32 px (short side), the trained size" in out
    trained_size, _ = decode(tmp_path / "trained" / "v.mkv")
    smoothness = lambda x: np.abs(np.diff(x.astype(int), axis=2)).mean()  # noqa: E731
    # 4x of 48 rows keeps 12 rows of detail; the 32 px preset size then 4x keeps 8: smoother
    assert smoothness(trained_size) < smoothness(auto) < smoothness(frames)


def test_a_region_baseline_without_detector_weights_suggests_the_whole_frame(
    tmp_path: Path,
) -> None:
    source = write_video(tmp_path / "v.mkv", synthetic_frames(2, 5, 32, 32), codec="ffv1")
    code, out = bench("anonymize", str(source), "--method", "blur", "--strength", "weak",
                      "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "empty"),
                      "--results-dir", str(tmp_path / "r"))  # fmt: skip
    flat = " ".join(out.split())
    assert code == 2 and "--region frame" in flat and "Traceback" not in out, out
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
