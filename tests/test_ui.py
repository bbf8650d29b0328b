"""The study's user interfaces in a real browser: Debian's headless Chromium driven by selenium through
/usr/bin/chromedriver (never a downloaded driver). `make setup` installs both, so these tests fail, not skip,
where they are missing. Each test starts the server the way a user does (`make mlflow-ui`, `make lab`) on
127.0.0.1 and a free port, and saves a screenshot to $MATS_UI_SCREENSHOTS (`make ui-screenshots`: reports/ui/)
or to the test's temporary folder."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(command: list[str], ready_url: str, env: dict | None = None, log: Path | None = None):
    """Start a server in its own process group, wait until ready_url answers, stop the whole group after."""
    out = open(log, "w") if log else subprocess.DEVNULL
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(ready_url, timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"{' '.join(command)} exited at start" + (f": {log.read_text()[-2000:]}" if log else ""))
                time.sleep(0.5)
        else:
            pytest.fail(f"{ready_url} did not answer within 120 s")
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if log:
            out.close()


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on the port (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def assert_loopback_only(port: int) -> None:
    addresses = listening_addresses(port)
    loopback = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}
    assert addresses and addresses <= loopback, f"port {port} listens on {addresses}, not only 127.0.0.1"


@pytest.fixture
def browser(tmp_path):
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), "run `make setup` (Debian chromium, chromium-driver)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # The flags keep Chromium off the network this machine does not have (background services, updates).
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1600,1100", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("MATS_UI_SCREENSHOTS") or tmp_path)
    folder = folder if folder.is_absolute() else ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    driver.save_screenshot(str(path))
    return path


def page_text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def wait_for_text(driver, *needles: str, timeout: float = 90) -> str:
    from selenium.common.exceptions import TimeoutException

    try:
        WebDriverWait(driver, timeout).until(lambda d: all(n in page_text(d) for n in needles))
    except TimeoutException:
        text = page_text(driver)
        pytest.fail(f"page never showed {[n for n in needles if n not in text]}; it shows:\n{text[:1500]}\n...\n{text[-2500:]}")
    return page_text(driver)


def test_mlflow_compare_view_shows_each_parts_settings_and_metrics(tiny_run, tmp_path, monkeypatch, browser):
    from mlflow.tracking import MlflowClient

    from mats_lib.evaluate import main

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    for lam in ("0.0", "1.0"):  # two evaluations that differ only in Santa's lambda
        main([str(tiny_run), "--out", str(tmp_path / "eval"), "--set", "eval.transfers=[santa]",
              "--set", "eval.tasks=[cls_animals]", "--set", f"santa.lam={lam}", "--set", "tracking.enabled=true"])
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("mats-smoke")
    parts = [r for r in client.search_runs([experiment.experiment_id]) if "mlflow.parentRunId" in r.data.tags]
    assert len(parts) == 2

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve(["make", "--no-print-directory", "mlflow-ui", f"MLFLOW_PORT={port}", f"MLFLOW_STORE={store}"],
               f"{url}/health", log=tmp_path / "mlflow-ui.log"):
        assert_loopback_only(port)
        ids = json.dumps([r.info.run_id for r in parts])
        browser.get(f"{url}/#/compare-runs?runs={ids}&experiments={json.dumps([experiment.experiment_id])}")
        text = wait_for_text(browser, "Comparing 2 Runs", "santa.lam", "balanced_accuracy")
        for part in parts:
            assert part.info.run_name in text  # e.g. "santa/cls_animals/eval_seed0 [9769dcf8]"
        rows = {line.split(" ", 1)[0]: line for line in text.splitlines() if " " in line}
        assert rows["santa.lam"].split()[1:] and sorted(rows["santa.lam"].split()[1:]) == ["0.0", "1.0"]
        assert rows["transfer"].split()[1:] == ["santa", "santa"]
        assert "decoding.num_beams" in rows and "eval.max_items" in rows
        for metric in ("accuracy", "balanced_accuracy", "balanced_chance", "majority_rate"):
            assert metric in text.splitlines(), metric
        # The picture a user wants: the parameters that differ (Show diff only) and the metrics, side by side.
        browser.set_window_size(1600, 2200)
        switches = browser.find_elements(By.CSS_SELECTOR, "[role='switch']")
        if switches:
            switches[0].click()
        heading = browser.find_element(By.XPATH, "//*[normalize-space(text())='Parameters']")
        browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", heading)
        shot = screenshot(browser, tmp_path, "mlflow_compare.png")
    assert shot.stat().st_size > 10_000


@contextmanager
def lab_server(tmp_path: Path):
    """`make lab` on a free port with a known token and a throwaway config folder: (its address, the token)."""
    port, token = free_port(), "mats-ui-test"
    url = f"http://127.0.0.1:{port}"
    with serve(["make", "--no-print-directory", "lab", f"LAB_PORT={port}"], f"{url}/api/status?token={token}",
               env={"JUPYTER_TOKEN": token, "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config")},
               log=tmp_path / "lab.log"):
        assert_loopback_only(port)
        yield url, token


def test_jupyterlab_opens_a_study_notebook_with_the_mats_kernel(tmp_path, browser):
    notebook = ROOT / "notebooks" / "train_mats.ipynb"
    before = hashlib.sha256(notebook.read_bytes()).hexdigest()
    with lab_server(tmp_path) as (url, token):
        browser.get(f"{url}/lab/tree/notebooks/train_mats.ipynb?token={token}")  # Lab is rooted at the repository
        text = wait_for_text(browser, "Train one MATS run", "Python (mats) | Idle", timeout=120)
        kernel = browser.find_element(By.CSS_SELECTOR, ".jp-Toolbar-kernelName").text
        assert kernel == "Python (mats)"
        assert 'encoder_name = "tagclap"' in text  # the parameters cell is shown
        shot = screenshot(browser, tmp_path, "jupyterlab_train_mats.png")
    assert shot.stat().st_size > 10_000
    # Opening a notebook must not rewrite the committed file (no autosave of outputs or metadata).
    assert hashlib.sha256(notebook.read_bytes()).hexdigest() == before


def grid_lines(driver) -> set[str]:
    """Every line the page's scrollable grids show while each is scrolled through, top to bottom."""
    seen = set()
    for viewport in driver.find_elements(By.CSS_SELECTOR, ".ReactVirtualized__Grid"):
        height = driver.execute_script("return arguments[0].scrollHeight", viewport)
        for top in range(0, int(height) + 60, 60):
            driver.execute_script("arguments[0].scrollTop = arguments[1]", viewport, top)
            time.sleep(0.2)
            seen |= set(page_text(driver).splitlines())
    return seen


def test_mlflow_compare_view_of_the_lambda_sweep_shows_every_lambda_with_its_interval(tmp_path, monkeypatch, browser):
    """The mini study's committed lambda sweep (tagclap), logged by `make mlflow-import` without training, compared in
    the UI: the santa.lam row holds every lambda and each pooled metric comes with its 95% bounds."""
    import shutil

    from mlflow.tracking import MlflowClient

    from mats_lib.cli.mlflow_import import import_reports

    report = ROOT / "reports" / "mini" / "ablation_lambda-tagclap.json"
    (tmp_path / "reports" / "mini").mkdir(parents=True)
    shutil.copy(report, tmp_path / "reports" / "mini" / report.name)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MATS_REPORTS_DIR", str(tmp_path / "reports"))
    import_reports("mini")
    lambdas = sorted(row["lam"] for row in json.loads(report.read_text())["rows"])
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("mats-mini")
    sweep = sorted((r for r in client.search_runs([experiment.experiment_id]) if "santa.lam" in r.data.params),
                   key=lambda r: float(r.data.params["santa.lam"]))
    assert [float(r.data.params["santa.lam"]) for r in sweep] == lambdas

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve(["make", "--no-print-directory", "mlflow-ui", f"MLFLOW_PORT={port}", f"MLFLOW_STORE={store}"],
               f"{url}/health", log=tmp_path / "mlflow-ui.log"):
        assert_loopback_only(port)
        assert f"open {url}/#/experiments/{experiment.experiment_id}" in (tmp_path / "mlflow-ui.log").read_text()
        ids = json.dumps([r.info.run_id for r in sweep])
        browser.set_window_size(1600, 3200)  # the metrics grid renders only the rows in view
        browser.get(f"{url}/#/compare-runs?runs={ids}&experiments={json.dumps([experiment.experiment_id])}")
        text = wait_for_text(browser, f"Comparing {len(sweep)} Runs", "santa.lam", "Metrics", "classification")
        rows = {line.split(" ", 1)[0]: line.split()[1:] for line in text.splitlines() if " " in line}
        assert sorted(map(float, rows["santa.lam"])) == lambdas
        lines = set(text.splitlines()) | grid_lines(browser)  # the metrics grid renders the rows scrolled into view
        for metric in ("classification", "classification_ci_low", "classification_ci_high", "caption",
                       "caption_ci_low", "caption_ci_high"):
            assert metric in lines, metric
        browser.set_window_size(1600, 1500)
        heading = browser.find_element(By.XPATH, "//*[normalize-space(text())='Parameters']")
        browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", heading)
        shot = screenshot(browser, tmp_path, "mlflow_lambda_sweep.png")
    assert shot.stat().st_size > 10_000


def test_jupyterlab_shows_an_executed_study_notebook_with_its_figure(tmp_path, browser):
    notebook = ROOT / "reports" / "mini" / "notebooks" / "ablation_lambda-tagclap.ipynb"
    before = hashlib.sha256(notebook.read_bytes()).hexdigest()
    with lab_server(tmp_path) as (url, token):
        browser.get(f"{url}/lab/tree/{notebook.relative_to(ROOT)}?token={token}")
        wait_for_text(browser, "Python (mats)", timeout=120)
        WebDriverWait(browser, 90).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-RenderedImage img"), "no figure rendered")
        figure = browser.find_elements(By.CSS_SELECTOR, ".jp-RenderedImage img")[0]
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", figure)
        time.sleep(1)  # the scroll settles before the picture
        assert figure.size["width"] > 300
        shot = screenshot(browser, tmp_path, "jupyterlab_executed_sweep.png")
    assert shot.stat().st_size > 10_000
    assert hashlib.sha256(notebook.read_bytes()).hexdigest() == before
