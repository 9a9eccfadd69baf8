"""`bench leaderboard`: the static site built from the records (the page contents here; the
page in a real browser in tests/test_leaderboard_browser.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import bench
from bench.orchestration.runner import new_record
from bench.store.results import ResultsStore
from tests.conftest import make_record
from tests.test_cli import bench as cli

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "pixelate.py"


def mosaic_plugin(folder: Path) -> Path:
    """The method guide's pixelate plug-in under its own name (a worker that loaded the
    guide's file must not meet a second `pixelate`)."""
    path = folder / "mosaic.py"
    path.write_text(EXAMPLE.read_text().replace('"pixelate"', '"mosaic"'))
    return path


COST = {"parameters": 91291, "flops_per_frame": 3.1e7, "fps": 1800.0, "fps_320x240": 20.5,
        "frame_size": 32, "deploy_size": "320x240", "batch_frames": 32, "device": "cpu",
        "precision": "bf16"}  # fmt: skip


def site_store(root: Path, plugin: Path) -> ResultsStore:
    """Two seeds each of raw, weak blur and penalty B = 0.3 (with its cost), and one run of
    the `mosaic` plug-in (`plugin`)."""
    store = ResultsStore(root)
    for seed in (0, 1):
        store.save(make_record("raw", top1=0.97 - seed / 100, cmap=0.88, seed=seed))
        store.save(make_record("blur", {"strength": "weak"}, top1=0.78, cmap=0.83, seed=seed))
        penalty = make_record("penalty", {"B": 0.3}, top1=0.8 + seed / 10, cmap=0.7, seed=seed)
        penalty["cost"] = COST
        penalty["details"] = {"privacy_ap": {"bag": 0.5 + seed / 10, "text": 0.9}}
        store.save(penalty)
    cfg = bench.config("mosaic", plugins=[plugin], block=8)
    metrics = {"action_top1": 0.6, "privacy_cmap": 0.65, "privacy_f1": 0.5}
    store.save(new_record(cfg, metrics))
    return store


def built_site(tmp_path: Path) -> Path:
    """`bench leaderboard` over `site_store` (chance levels left out); the site's folder."""
    plugin = mosaic_plugin(tmp_path)
    site_store(tmp_path / "results", plugin)
    out = tmp_path / "site"
    code, text = cli("leaderboard", "--out", str(out), "--results-dir", str(tmp_path / "results"),
                     "--no-chance", "--plugin", str(plugin))  # fmt: skip
    assert code == 0, text
    return out


def test_leaderboard_site_lists_every_method_offline(tmp_path: Path) -> None:
    """One page for (synthetic, known, tiny): a row per method setting, the plug-in
    included, each linked to its records' JSON (copied into the site) and its method's
    description; the plane's data has one trace per method; nothing is fetched from the web."""
    out = built_site(tmp_path)
    page = (out / "synthetic-known-tiny.html").read_text()
    assert 'href="synthetic-known-tiny.html"' in (out / "index.html").read_text()
    rows = re.findall(r'<a href="methods.html#(\w+)">', page)
    assert sorted(rows) == ["blur", "mosaic", "penalty", "raw"]
    for key in re.findall(r'href="records/(\w+)\.json"', page):
        assert json.loads((out / "records" / f"{key}.json").read_text())["key"] == key
    assert len(list((out / "records").glob("*.json"))) == 7
    data = json.loads(re.search(r'id="page-data">(.*?)</script>', page, re.S).group(1))
    assert sorted(t["label"] for t in data["traces"]) == [
        "blur (strength=weak)", "mosaic (block=8)", "penalty", "raw",  # B = 0.3: its default
    ]  # fmt: skip
    assert data["front"]  # the Pareto front of the means
    assert "91.3k" in page and "(↓ 11.50)" in page  # cost; penalty's drop in top-1 from raw
    assert "bag" in page and "55.0" in page  # AP per attribute, mean over seeds
    methods = (out / "methods.html").read_text()
    assert 'id="mosaic"' in methods and "Dave, Chen &amp; Shah" in methods
    for html in out.glob("*.html"):
        assert not re.search(r'(src|href)="(https?:)?//', html.read_text()), html.name


def test_leaderboard_without_records_says_what_to_run(tmp_path: Path) -> None:
    (tmp_path / "records").mkdir()
    code, text = cli("leaderboard", "--out", str(tmp_path / "site"), "--results-dir",
                     str(tmp_path), "--no-chance")  # fmt: skip
    assert code == 2 and "no records" in text and "bench sweep" in text


def test_inversion_page_shows_no_drop_in_reconstruction_quality(tmp_path: Path) -> None:
    """On the inversion attack's page privacy cells carry their drop from raw; PSNR and the
    raw-image reference do not (raw's PSNR scores g on raw clips, a near-identity)."""
    store = ResultsStore(tmp_path / "results")
    for method, params, cmap, psnr in (("raw", {}, 0.85, 59.9), ("blur", {"strength": "weak"},
                                                                   0.80, 26.5)):  # fmt: skip
        cfg = bench.config(method, protocol="inversion", **params)
        metrics = {"privacy_cmap": cmap, "privacy_f1": 0.5, "anonymized_privacy_cmap": 0.6,
                   "anonymized_privacy_f1": 0.4, "raw_privacy_cmap": 0.85, "raw_privacy_f1": 0.6,
                   "reconstruction_psnr": psnr, "reconstruction_ssim": 0.9,
                   "anonymized_psnr": 25.0, "anonymized_ssim": 0.7}  # fmt: skip
        store.save(new_record(cfg, metrics))
    out = tmp_path / "site"
    code, text = cli("leaderboard", "--out", str(out), "--results-dir", str(store.root),
                     "--no-chance")  # fmt: skip
    assert code == 0, text
    page = (out / "synthetic-inversion-tiny.html").read_text()
    assert "(↓ 5.00)" in page and "26.5" in page  # cMAP after inversion: 85 -> 80
    assert "33.4" not in page  # no 'drop' of 59.9 - 26.5 dB
    # nor of cMAP on raw images (the same fB' on the same images): raw's two 85.00 and blur's
    assert page.count('<span class="v">85.00</span></td>') == 3
