"""Every setting is documented in the README (a setting nobody can find is a bug)."""

from pathlib import Path

from clearway.settings import Settings

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme():
    missing = [f"CLEARWAY_{name.upper()}" for name in Settings.model_fields if f"CLEARWAY_{name.upper()}" not in README]
    assert missing == [], f"document these settings in README.md: {missing}"
