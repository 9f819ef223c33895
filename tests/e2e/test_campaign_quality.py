"""Campaign clustering quality end to end (issue 4, Quality): labelled synthetic traffic from
tests/tools/campaign_gen.py goes through the real `import`, `worker --until-idle` and
`campaigns export`, scored by bench/campaign_quality.py's metric code.

Small on purpose (12 campaigns, 150 noise mails, about 500 messages) so a debug build stays
within about a minute; `python3 bench/campaign_quality.py --bin BIN` runs the full-size check.
"""
import sys
from collections import Counter

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "tools"))
import campaign_quality  # noqa: E402

# The bar for pairwise precision and recall.
MIN_PAIRWISE = 0.95


def test_clustering_meets_the_quality_bar_on_generated_campaigns(spamhattan_bin, tmp_path):
    r = campaign_quality.evaluate(str(spamhattan_bin), tmp_path, campaigns=12, per_campaign=(5, 40),
                                  noise=150, seed=4)
    report = "\n".join([f"P {r.scores.precision:.3f} R {r.scores.recall:.3f} ARI {r.scores.ari:.3f}",
                        f"merges: {r.merges}", f"splits: {r.splits}", f"seconds: {r.seconds}"])
    assert r.seconds["imported"] == r.messages, report
    # Each message in at most one campaign: never listed under two.
    assert not r.in_two_campaigns, report
    assert r.scores.precision >= MIN_PAIRWISE, report
    assert r.scores.recall >= MIN_PAIRWISE, report


def test_export_lists_every_message_in_at_most_one_campaign(spamhattan_bin, tmp_path):
    """The export contract the quality command relies on, checked on its own: ids are the
    SHA-256 of the raw files, `messages` counts them, no message under two live campaigns."""
    import campaign_gen
    corpus = campaign_gen.generate(3, (4, 6), 5, seed=11)
    campaign_gen.write(str(tmp_path / "corpus"), corpus)
    exported, _ = campaign_quality.run_pipeline(str(spamhattan_bin), tmp_path / "corpus", tmp_path)
    live = [c for c in exported if c.get("status") != "merged"]
    listed = Counter(sha for c in live for sha in c["message_ids"])
    generated = {m.sha256 for m in corpus.messages}
    assert set(listed) <= generated, "export names messages that were never imported"
    assert all(n == 1 for n in listed.values()), listed.most_common(3)
    for c in live:
        assert isinstance(c["id"], int) and c["messages"] == len(c["message_ids"]), c
