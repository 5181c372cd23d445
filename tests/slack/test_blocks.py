import itertools
import json
import time

from bot.models import Alarm, Category, Hypothesis, Investigation
from bot.slack import blocks
from tests.conftest import T0

ALARM = Alarm(
    name="a" * 255, reason="x < y & z", changed_at=T0, namespace="AWS/Lambda", metric="Errors"
)


def test_long_texts_are_cut_with_a_pointer_and_headers_fit():
    hypothesis = Hypothesis(
        category=Category.BAD_DEPLOYMENT,
        confidence=0.8,
        title="t" * 4000,
        evidence=["e" * 900] * 10,
        remediation=["r" * 500] * 10,
    )
    investigation = Investigation(
        service="s", alarm="a", hypotheses=[hypothesis], evidence_tokens=1
    )
    _, body = blocks.analysis_message(investigation, ALARM, 7)
    for block in body:
        for text in _texts(block):
            assert len(text) <= 3000
    assert "full evidence in the file above" in json.dumps(body)
    root = blocks.root_message(ALARM, "svc")
    assert len(root[0]["text"]["text"]) <= 150
    assert "x &lt; y &amp; z" in json.dumps(root), "alarm text is shown literally, not as markup"


def test_feedback_buttons_carry_the_analysis_id_and_tally():
    investigation = Investigation(service="s", alarm="a", hypotheses=[], evidence_tokens=1)
    _, body = blocks.analysis_message(investigation, ALARM, 42, tally=(3, 1))
    actions = next(b for b in body if b["type"] == "actions")
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("feedback_up", "42"),
        ("feedback_down", "42"),
    ]
    assert "Helpful (3)" in json.dumps(actions) and "Not right (1)" in json.dumps(actions)


def test_more_than_fifty_blocks_are_folded():
    many = [blocks.DividerBlock() for _ in range(80)]
    out = blocks.limit_blocks(many, "rest in thread")
    assert len(out) == 50 and "rest in thread" in json.dumps(out[-1])


def _texts(block: dict):
    for key in ("text",):
        value = block.get(key)
        if isinstance(value, dict):
            yield value.get("text", "")
    for field in block.get("fields", []) or []:
        yield field.get("text", "")
    for element in block.get("elements", []) or []:
        if isinstance(element, dict) and "text" in element and isinstance(element["text"], str):
            yield element["text"]


def test_new_messages_are_paced_per_channel():
    from bot.slack.threads import Poster

    class Recorder:
        def __init__(self):
            self.sent = []

        def chat_postMessage(self, **kwargs):  # noqa: N802 - slack_sdk's name
            self.sent.append((time.monotonic(), kwargs["channel"]))
            return {"channel": kwargs["channel"], "ts": str(len(self.sent))}

    recorder = Recorder()
    poster = Poster(recorder)  # type: ignore[arg-type]
    for channel in ("#a", "#a", "#b", "#a"):
        poster.post(channel, "hi")
    times_a = [t for t, c in recorder.sent if c == "#a"]
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(times_a))
    time_b = next(t for t, c in recorder.sent if c == "#b")
    assert time_b - times_a[0] < 1.5, "another channel is not held back by #a"


def test_nothing_from_an_alarm_or_its_evidence_reaches_slack_as_markup():
    """Alarm names and reasons, evidence lines, remediation and error texts come from
    outside: `<!channel>`, `<@U…>` or a `<url|label>` in them is shown, never acted on,
    in the fallback `text` (what notifications show) and in every mrkdwn block."""
    from bot.sim.fakes.slack import fake_slack
    from bot.slack.threads import Poster, SlackThread, web_client

    hostile = Alarm(
        name="quote <!channel> errors",
        reason="<@U0ADMIN> & <https://evil.example|click here>",
        changed_at=T0,
        namespace="AWS/Lambda",
        metric="Errors<!here>",
        dimensions={"FunctionName": "<!everyone>"},
    )
    top = Hypothesis(
        category=Category.BAD_DEPLOYMENT,
        confidence=0.7,
        title="<!here> rolled back",
        evidence=["log: <!channel> deploy failed"],
        remediation=["ping <!subteam^S0ONCALL>"],
    )
    investigation = Investigation(service="s", alarm="a", hypotheses=[top], evidence_tokens=1)
    with fake_slack() as slack:
        thread = SlackThread(Poster(web_client("xoxb-test", slack.url + "/api/")))
        channel, ts = thread.open(
            "#incidents", hostile, "svc", resolved=False, also_firing=["<!here>"]
        )
        thread.refired(channel, ts, hostile, 2)
        thread.resolved(channel, ts, hostile)
        thread.failed(channel, ts, 3, "RuntimeError: <!channel> boom")
        thread.post_analysis(channel, ts, investigation, hostile, 9, None, [])
    sent = slack.methods("chat.postMessage")
    assert len(sent) == 5
    for message in sent:
        shown = [message["text"]]
        for block in message.get("blocks") or []:
            if block["type"] != "header":  # plain text: Slack does not read it as markup
                shown += list(_texts(block))
        for text in shown:
            for markup in ("<!", "<@", "<https://evil"):
                assert markup not in text, (markup, text)
    assert "&lt;!channel&gt;" in sent[0]["text"]


def _undetermined() -> Investigation:
    from bot.engine.calibration import Calibration, decide

    hypotheses = [
        Hypothesis(
            category=Category.DEPENDENCY_FAILURE,
            confidence=0.41,
            title="Dependency failure: NEW ERROR <!channel> upstream 502",
            evidence=["NEW ERROR x260 since onset: upstream answered 502 <@U1>"],
            counter_evidence=["Downstream calls no slower and not failing more in the traces"],
        ),
        Hypothesis(
            category=Category.BAD_DEPLOYMENT,
            confidence=0.3,
            title="Bad deployment: UpdateFunctionCode",
            evidence=["UpdateFunctionCode20150331v2 (lambda) on quote-api at T0-40m"],
            remediation=["Roll back the deploy"],
        ),
    ]
    verdict, separating = decide(hypotheses, Calibration(threshold=0.5))
    return Investigation(
        service="quote",
        alarm="quote-api-errors",
        hypotheses=hypotheses,
        evidence_tokens=10,
        verdict=verdict,
        separating=separating,
    )


def test_an_undetermined_analysis_is_posted_as_such_with_both_candidates():
    from bot.sim.fakes.slack import fake_slack
    from bot.slack.threads import Poster, SlackThread, web_client

    alarm = Alarm(name="quote-api-errors", changed_at=T0, namespace="AWS/Lambda", metric="Errors")
    with fake_slack() as slack:
        thread = SlackThread(Poster(web_client("xoxb-test", slack.url + "/api/")))
        thread.post_analysis("C1", "1.0", _undetermined(), alarm, 9, None, [])
        [post] = slack.methods("chat.postMessage")
    body = post["blocks"]
    text = json.dumps(json.loads(body) if isinstance(body, str) else body, ensure_ascii=False)
    assert post["text"].startswith("Undetermined: Dependency failure (41%) or Bad deployment (30%)")
    assert "❔ Undetermined" in text and "No single cause is clear enough to name" in text
    assert "What would tell them apart" in text and "Dependency failure would show" in text
    assert "against: Downstream calls no slower" in text
    assert "Roll back the deploy" not in text, "no remediation for a cause not named"
    assert "&lt;@U1&gt;" in text and "<@U1>" not in text, "log text is shown, not acted on"
    assert "feedback_down" in text


def test_a_determined_analysis_shows_what_argues_against_it():
    found = _undetermined()
    found = found.model_copy(update={"verdict": "determined", "separating": []})
    _, body = blocks.analysis_message(found, ALARM, 3)
    text = json.dumps(body)
    assert "*Against*" in text and "Downstream calls no slower" in text
    assert "Undetermined" not in text
