"""The web UI in a real browser (Debian's chromium through Playwright): the course notebook runs with the SDK, then
its owner logs in and finds everything in the pages (every task tab, the model and its lineage, the dataset
versions, a queue with a waiting task, the admin pages), and a second user finds none of it.

Screenshots of every page go to tests/artifacts/screenshots (git-ignored), for a look by eye."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.api import call, data
from tests.support.clients import client_for
from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.single_database]

CHROMIUM = "/usr/bin/chromium"
BIG_CHART = 10_000  # points per series: drawn in at most MAX_DRAW_MS
MAX_DRAW_MS = 200
MAX_PAGE_BYTES = 100_000  # a page without plots, compressed, with everything it loads
SHOTS = Path(__file__).parents[1] / "artifacts" / "screenshots"

NOTEBOOK = """
import json, sys
from pathlib import Path
from typing import Any

import numpy as np
import matplotlib.pyplot as plt
from clearml import Dataset, OutputModel, Task

project, tag = sys.argv[1], sys.argv[2]
for folder, files in {"v1": {"a.csv": "x,y\\n1,2\\n", "b.txt": "hello"}, "v2": {"c.csv": "x,y\\n3,4\\n"}}.items():
    Path("data", folder).mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        Path("data", folder, name).write_text(text)
ds1 = Dataset.create(dataset_project=project + "-data", dataset_name="parking-" + tag)
ds1.add_files(path="data/v1")
ds1.upload()
ds1.finalize()
ds2 = Dataset.create(dataset_project=project + "-data", dataset_name="parking-" + tag, parent_datasets=[ds1.id])
ds2.add_files(path="data/v2")
ds2.upload()
ds2.finalize()

task = Task.init(project_name=project, task_name="Training <b>" + tag + "</b>", output_uri=True)
output_model = OutputModel(task=task, framework="PyTorch")
params = {"num_epochs": 3, "lr": 0.001}
task.connect(params)
task.set_user_properties(site="Florence")
logger = task.get_logger()
losses = []
for epoch in range(params["num_epochs"]):
    losses.append(1.0 / (epoch + 1))
    logger.report_scalar("loss", "train", value=losses[-1], iteration=epoch)
    logger.report_scalar("loss", "validation", value=losses[-1] * 1.2, iteration=epoch)
    print(f"epoch {epoch} loss {losses[-1]:.4f} <script>alert(1)</script>")
logger.report_scatter2d("curve", "points", iteration=0, scatter=[[0, 1], [1, 0.5], [2, 0.33]], xaxis="x", yaxis="y")
logger.report_image("samples", "digit", iteration=0, image=np.zeros((8, 8, 3), dtype=np.uint8))
task.upload_artifact("train_losses", artifact_object=losses)
task.upload_artifact("summary", artifact_object={"best": min(losses), "epochs": 3})
Path("model.pth").write_bytes(bytes(range(256)) * 8)
output_model.update_weights(weights_filename="model.pth")
plt.figure()
plt.plot(losses)
plt.title("losses")
plt.show()
task.flush(wait_for_uploads=True)
task.mark_completed()
task.close()
print("RESULT", json.dumps({"task": task.id, "model": output_model.id, "ds1": ds1.id, "ds2": ds2.id}))
"""


@dataclass
class World:
    tag: str
    project: str
    task: str
    task_name: str
    model: str
    ds1: str
    ds2: str
    queue_name: str
    waiting: str
    big: str
    template: str
    a_name: str
    b_name: str
    admin_name: str
    password: str


def _password_user(server: ServerProcess, name: str, role: str, password: str) -> dict[str, str]:
    creds = server.user(name, role)
    server.cli("users", "set-password", name, "--stdin", input=password + "\n")
    return creds


@pytest.fixture(scope="module")
def world(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> World:
    tag = uuid.uuid4().hex[:8]
    password = f"pw-{uuid.uuid4().hex}"
    a_name, b_name, admin_name = f"ui-a-{tag}", f"ui-b-{tag}", f"ui-admin-{tag}"
    creds = _password_user(server, a_name, "user", password)
    _password_user(server, b_name, "user", password)
    _password_user(server, admin_name, "admin", password)
    project = f"UiCourse-{tag}"
    ran = run_sdk(NOTEBOOK, creds, tmp_path_factory.mktemp("notebook"), project, tag, timeout=300)
    ids = json.loads(last_line_value(ran.stdout, "RESULT"))
    queue_name = f"ui-queue-{tag}"
    with client_for(server, creds) as a:
        queue = data(call(a, "queues.create", {"name": queue_name}))["id"]
        waiting = data(call(a, "tasks.clone", {"task": ids["task"], "new_task_name": f"waiting-{tag}"}))["id"]
        data(call(a, "tasks.enqueue", {"task": waiting, "queue": queue}))
        project_id = data(call(a, "tasks.get_by_id", {"task": ids["task"]}))["task"]["project"]
        worker = f"ui-worker-{tag}"
        report = {
            "worker": worker,
            "queues": [queue],
            "machine_stats": {"cpu_usage": [12.5, 30.0], "gpu_usage": [40.0]},
        }
        with client_for(server, server.user(f"ui-agent-{tag}", "agent")) as agent:
            data(call(agent, "workers.status_report", report))
        made = a.post("/admin/api/gateway/templates", json={"task": ids["task"], "queue": queue})
        assert made.status_code in (200, 201), made.text
        template = made.json()["id"]
        big = data(call(a, "tasks.create", {"name": f"big-{tag}", "type": "training", "project": project_id}))["id"]
        points = [
            {"task": big, "type": "training_stats_scalar", "metric": "big", "variant": v, "iter": i, "value": i * k}
            for k, v in ((1.0, "up"), (-1.0, "down"))
            for i in range(BIG_CHART)
        ]
        for start in range(0, len(points), 1000):
            body = "\n".join(json.dumps(p) for p in points[start : start + 1000])
            assert data(a.post("/events.add_batch", content=body))["added"] == len(points[start : start + 1000])
    return World(
        tag=tag,
        project=project_id,
        task=ids["task"],
        task_name=f"Training <b>{tag}</b>",
        model=ids["model"],
        ds1=ids["ds1"],
        ds2=ids["ds2"],
        queue_name=queue_name,
        waiting=waiting,
        big=big,
        template=template,
        a_name=a_name,
        b_name=b_name,
        admin_name=admin_name,
        password=password,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test does it on CI)")
    from playwright.sync_api import sync_playwright

    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


def expect(locator: object) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)  # type: ignore[arg-type]


def _figure(line: str) -> None:
    """A measured figure, kept beside the screenshots."""
    with (SHOTS / "figures.txt").open("a") as out:
        out.write(line + "\n")


class Session:
    """One user's browser context: logs in, opens pages, keeps a screenshot of each, and collects every
    Content-Security-Policy violation and script error the pages report."""

    def __init__(self, browser: object, server: ServerProcess, who: str) -> None:
        self.context = browser.new_context(base_url=server.url, viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.who = who
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"{m.text} {m.location}"))
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))

    def login(self, name: str, password: str) -> None:
        self.page.goto("/web/projects")
        self.page.wait_for_url("**/web/login?next=*")  # the 401 page sends the browser to the login form
        self.page.fill("input[name=name]", name)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/web/projects")
        self.problems.clear()  # the 401 that sent the browser to the login form

    def open(self, path: str, shot: str) -> object:
        response = self.page.goto(path)
        self.page.wait_for_load_state("networkidle")
        self.page.screenshot(path=str(SHOTS / f"{self.who}-{shot}.png"), full_page=True)
        return response

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def alice(browser: object, server: ServerProcess, world: World) -> Iterator[Session]:
    session = Session(browser, server, "a")
    session.login(world.a_name, world.password)
    yield session
    session.close()


def test_api_keys_cannot_log_in(browser: object, server: ServerProcess, world: World):
    creds = server.credentials(world.a_name)
    session = Session(browser, server, "key")
    session.page.goto("/web/login")
    session.page.fill("input[name=name]", creds["CLEARML_API_ACCESS_KEY"])
    session.page.fill("input[name=password]", creds["CLEARML_API_SECRET_KEY"])
    session.page.click("button[type=submit]")
    assert "/web/login" in session.page.url and session.page.locator(".error").count() == 1
    session.close()


def test_the_owner_finds_the_task_and_every_tab(alice: Session, world: World):
    page = alice.page
    alice.open("/web/projects", "projects")
    page.click(f"text=UiCourse-{world.tag}")
    page.wait_for_load_state("networkidle")
    row = page.locator("#tasks tbody tr", has_text=world.task_name)
    assert row.count() == 1  # the name is shown as text: its markup is escaped
    alice.open(f"/web/tasks?project={world.project}&hp=General/lr&metric=loss/train", "tasks")
    assert page.locator("#tasks td.extra").first.inner_text() in ("0.001", "")
    assert "0.001" in page.locator("#tasks").inner_text()
    page.click(f"#tasks a:text-is('{world.task_name}')")
    page.wait_for_url(f"**/web/tasks/{world.task}")

    alice.open(f"/web/tasks/{world.task}/execution", "task-execution")
    assert page.locator("#task-status").inner_text() == "completed"
    alice.open(f"/web/tasks/{world.task}/configuration", "task-configuration")
    params = page.locator("table.params[data-section=General]").inner_text()
    assert "num_epochs" in params and "0.001" in params and "Florence" in page.content()
    alice.open(f"/web/tasks/{world.task}/artifacts", "task-artifacts")
    link = page.locator("#artifacts tr", has_text="summary").locator("a.download")
    with page.expect_download() as download:
        link.click()
    saved = download.value.path()
    assert json.loads(Path(saved).read_text()) == {"best": 1 / 3, "epochs": 3}
    alice.open(f"/web/tasks/{world.task}/info", "task-info")
    assert "Iterations" in page.locator("dl.fields").inner_text()
    alice.open(f"/web/tasks/{world.task}/console", "task-console")
    console = page.locator("#console-lines").inner_text()
    assert "epoch 2 loss 0.3333 <script>alert(1)</script>" in console  # shown as text, never run
    page.fill("input[name=q]", "epoch 1 loss")
    page.click("#console-search")
    expect(page.locator("#console-lines")).not_to_contain_text("epoch 0")
    assert "epoch 1 loss 0.5000" in page.locator("#console-lines").inner_text()
    alice.open(f"/web/tasks/{world.task}/scalars", "task-scalars")
    page.wait_for_selector("#scalars[data-drawn]")
    chart = page.locator("figure.chart[data-metric=loss]")
    assert chart.locator("canvas").count() == 1
    legend = chart.locator(".u-legend").inner_text()
    assert "train" in legend and "validation" in legend
    alice.open(f"/web/tasks/{world.task}/plots", "task-plots")
    page.wait_for_selector(".plotly[data-drawn]", timeout=30_000)
    assert page.locator(".plotly .main-svg").count() >= 1 and "curve" in page.content()
    alice.open(f"/web/tasks/{world.task}/debug", "task-debug")
    image = page.locator(".samples img").first
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")  # fetched with the session cookie
    assert alice.problems == [], alice.problems


def test_model_lineage_datasets_and_queue(alice: Session, world: World):
    page = alice.page
    alice.open("/web/models", "models")
    assert page.locator("#models").inner_text().count("Training") >= 1
    alice.open(f"/web/models/{world.model}/general", "model-general")
    assert "PyTorch" in page.locator("dl.fields").inner_text()
    for tab in ("labels", "metadata"):
        alice.open(f"/web/models/{world.model}/{tab}", f"model-{tab}")
    alice.open(f"/web/models/{world.model}/lineage", "model-lineage")
    assert world.tag in page.locator("#lineage").inner_text()
    page.click("#model-archive")
    expect(page.locator("#model-archive")).to_have_text("Restore")
    page.click("#model-archive")
    expect(page.locator("#model-archive")).to_have_text("Archive")
    alice.open("/web/datasets", "datasets")
    versions = page.locator(f"section[data-dataset='parking-{world.tag}'] tr.version")
    assert versions.count() == 2
    text = page.locator(f"section[data-dataset='parking-{world.tag}']").inner_text()
    assert "1.0.0" in text and "1.0.1" in text and world.ds1[:8] in text  # v2's parent is v1
    alice.open("/web/queues", "queues")
    row = page.locator("#queues tr", has_text=world.queue_name)
    assert row.locator("td.length").inner_text() == "1"
    row.locator("a").click()
    page.wait_for_load_state("networkidle")
    assert f"waiting-{world.tag}" in page.locator("#entries").inner_text()
    alice.page.screenshot(path=str(SHOTS / "a-queue.png"), full_page=True)
    page.click("#entries button:text('back')")  # reorder: one task, so it stays where it is
    page.wait_for_load_state("networkidle")
    assert f"waiting-{world.tag}" in page.locator("#entries").inner_text()
    alice.open("/web/queues", "queues-workers")
    assert f"ui-worker-{world.tag}" in page.locator("#workers").inner_text()
    page.wait_for_selector("#worker-stats[data-drawn]")
    assert page.locator("#worker-stats figure.chart[data-metric='CPU %']").count() == 1
    assert alice.problems == [], alice.problems


def test_actions_clone_with_edited_parameters(alice: Session, world: World):
    page = alice.page
    alice.open(f"/web/tasks/{world.task}/execution", "task-before-clone")
    page.click("summary:text('Clone…')")
    page.fill("input[name='hp:General/lr']", "0.5")
    page.fill("#clone-form input[name=name]", f"clone-{world.tag}")
    page.click("#action-clone")
    page.wait_for_url(re.compile(r".*/web/tasks/(?!" + world.task + r")\w+/execution"))
    assert page.locator("#task-name").inner_text() == f"clone-{world.tag}"
    alice.open(page.url.replace("/execution", "/configuration"), "clone-configuration")
    assert "0.5" in page.locator("table.params[data-section=General]").inner_text()
    clone = page.url.split("/web/tasks/")[1].split("/")[0]
    alice.open(f"/web/compare?task={world.task}&task={clone}", "compare")
    assert "General/lr" in page.locator("#compare-params tr.differ").inner_text()
    page.wait_for_selector("#compare-scalars[data-drawn]")
    alice.open(f"/web/tasks/{clone}/execution", "clone-execution")
    page.select_option("select[name=queue]", label=world.queue_name)
    for action, status in (("enqueue", "queued"), ("abort", "stopped"), ("reset", "created")):
        page.click(f"#action-{action}")
        expect(page.locator("#task-status")).to_have_text(status)
    page.click("#action-archive")
    page.wait_for_load_state("networkidle")
    assert page.locator("#action-unarchive").count() == 1
    assert alice.problems == [], alice.problems


def test_settings_key_shown_once_and_logout(browser: object, server: ServerProcess, world: World):
    session = Session(browser, server, "settings")
    session.login(world.a_name, world.password)
    page = session.page
    session.open("/web/settings", "settings")
    page.click("#create-key")
    page.wait_for_load_state("networkidle")
    lines = page.locator("#env-lines").inner_text()
    assert "CLEARML_API_SECRET_KEY=" in lines and "CLEARML_API_ACCESS_KEY=" in lines
    session.open("/web/settings", "settings-after")
    assert page.locator("#env-lines").count() == 0  # never shown again
    cookie = next(c for c in session.context.cookies() if c["name"] == "clearway_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] > 0
    page.click("text=Log out")
    page.wait_for_url("**/web/login")
    # The old cookie is revoked on the server, not only forgotten by this browser.
    session.context.add_cookies([{**cookie}])
    response = page.goto("/web/projects")
    assert response is not None and response.status == 401
    session.close()


def test_gateway_pages(alice: Session, server: ServerProcess, world: World):
    page = alice.page
    with client_for(server, server.credentials(world.a_name)) as a:
        run = a.post(f"/gateway/v1/enqueue/{world.template}", json={"params": {}})
        assert run.status_code == 202, run.text
    alice.open("/web/gateway", "gateway")
    page.wait_for_selector("#gateway-trends[data-drawn]")
    assert "enqueue" in page.locator("figure.chart[data-metric='calls per minute'] .u-legend").inner_text()
    assert page.locator("#gateway-counts").inner_text().count("1") >= 1
    row = page.locator("#templates tr", has_text=world.template)
    assert row.count() == 1 and row.locator("button[data-copy]").count() == 1
    alice.open("/web/gateway/logs?kind=enqueue", "gateway-logs")
    assert "calls match" in page.content()
    assert alice.problems == [], alice.problems


def test_admin_pages(browser: object, server: ServerProcess, world: World):
    session = Session(browser, server, "admin")
    session.login(world.admin_name, world.password)
    page = session.page
    session.open("/web/admin", "admin")
    assert world.a_name in page.locator("#users").inner_text()
    page.fill("#new-group-name", f"ui-group-{world.tag}")
    page.click("#create-group")
    expect(page.locator("#groups")).to_contain_text(f"ui-group-{world.tag}")
    session.open("/web/admin/shares", "admin-shares")
    assert f"UiCourse-{world.tag}" in page.locator("#shares").inner_text()
    session.open("/web/admin/audit", "admin-audit")
    assert "auth.login" in page.locator("#audit").inner_text()
    assert session.problems == []
    session.close()


def test_a_second_user_sees_none_of_it(browser: object, server: ServerProcess, world: World):
    session = Session(browser, server, "b")
    session.login(world.b_name, world.password)
    page = session.page
    # Queues are the organisation's (B sees A's queue and its length), never the tasks waiting in it.
    markers = [f"UiCourse-{world.tag}", f"parking-{world.tag}", f"waiting-{world.tag}", f"clone-{world.tag}"]
    markers += [f"Training &lt;b&gt;{world.tag}", world.task, world.model, world.ds1, world.ds2, world.waiting]
    markers.append(world.template)
    for path in ("/web/projects", "/web/tasks", "/web/models", "/web/datasets", "/web/queues", "/web/gateway"):
        session.open(path, path.rsplit("/", 1)[-1])
        assert [m for m in markers if m in page.content()] == [], path
    for path in (
        f"/web/tasks/{world.task}/configuration",
        f"/web/tasks/{world.task}/scalars.json",
        f"/web/models/{world.model}/general",
        f"/web/tasks/{world.ds2}/info",
    ):
        response = page.goto(path)
        assert response is not None and response.status in (400, 403, 404), path
        shown = page.content()
        assert [m for m in markers if m in shown and m not in path] == [] and "0.001" not in shown, path
    admin = page.goto("/web/admin")
    assert admin is not None and admin.status == 403
    session.close()


def test_a_10k_point_chart_draws_fast(alice: Session, world: World):
    page = alice.page
    alice.open(f"/web/tasks/{world.big}/scalars", "big-scalars")
    page.wait_for_selector("#scalars[data-drawn]")
    drawn = int(page.locator("#scalars").get_attribute("data-draw-ms") or "0")
    _figure(f"scalars chart, 2 series of {BIG_CHART} points: drawn in {drawn} ms")
    assert drawn <= MAX_DRAW_MS, f"{BIG_CHART} points per series drawn in {drawn} ms"
    legend = page.locator("figure.chart[data-metric=big] .u-legend").inner_text()
    assert "up" in legend and "down" in legend


@pytest.mark.parametrize("path", ["/web/tasks", "/web/queues"])
def test_a_page_without_plots_loads_in_100_kb(browser: object, server: ServerProcess, world: World, path: str):
    """Everything the page loads (HTML, CSS, scripts, data), as compressed on the wire, in a fresh browser."""
    session = Session(browser, server, "weight")
    session.login(world.a_name, world.password)
    fresh = Session(browser, server, "weight-fresh")  # an empty cache; the session's cookie carried over
    fresh.context.add_cookies(session.context.cookies())
    loaded: list[Any] = []
    fresh.page.on("requestfinished", lambda request: loaded.append(request))
    fresh.open(path, "weight-" + path.rsplit("/", 1)[-1])
    sizes = {r.url: r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in loaded}
    _figure(f"{path}: {sum(sizes.values())} bytes on the wire, {len(sizes)} responses")
    assert sum(sizes.values()) <= MAX_PAGE_BYTES, sizes
    assert fresh.problems == []
    fresh.close()
    session.close()


def test_live_updates_show_a_status_change_without_reloading(alice: Session, server: ServerProcess, world: World):
    page = alice.page
    alice.open(f"/web/tasks/{world.waiting}/info", "live-before")
    expect(page.locator("#task-status")).to_have_text("queued")
    page.evaluate("document.body.setAttribute('data-marker', 'same page')")  # gone if the page reloads
    with client_for(server, server.credentials(world.a_name)) as a:
        data(call(a, "tasks.stop", {"task": world.waiting, "force": True}))
    expect(page.locator("#task-status")).to_have_text("stopped", timeout=15_000)
    assert page.locator("body[data-marker]").count() == 1
    page.screenshot(path=str(SHOTS / "a-live-after.png"), full_page=True)
