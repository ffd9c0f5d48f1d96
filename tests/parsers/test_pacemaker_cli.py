"""Which XML a crm_mon takes: the pure decision on real help texts, and detection once per
binary against the installed crm_mon (2.1.5) and the pacemaker 1.1 stand-in."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from clusterstate.pacemaker_cli import (
    LEGACY_CRM_MON_ARGV,
    CrmMonCliError,
    CrmMonDetector,
    CrmMonFlavour,
    crm_mon_argv,
    crm_mon_flavour,
    pacemaker_version,
)
from clusterstate.parsers.crm_mon import CRM_MON_ARGV, parse_crm_mon
from clusterstate.tools import CommandError, SubprocessRunner
from lab.offline.cibstates import PCMK_TZ, CibStates, tool_env
from tests.support.pacemaker11 import FIXTURES, STANDIN_DIR
from tests.support.pacemaker_tools import require_pacemaker_tools
from tests.support.runners import CibFileRunner

STANDIN = STANDIN_DIR / "crm_mon"


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


def both(version: str, options: str) -> str:
    return text(f"{version}.{options}.stdout") + text(f"{version}.{options}.stderr")


# -- the pure decision ------------------------------------------------------------------------


def test_pacemaker_21_help_lists_output_as() -> None:
    assert crm_mon_flavour(both("2.1.5", "help-all")) is CrmMonFlavour.OUTPUT_AS


@pytest.mark.parametrize("options", ["help-all", "help"])
def test_pacemaker_11_usage_lists_only_as_xml(options: str) -> None:
    usage = both("1.1.23", options) if options == "help-all" else text("1.1.23.help.stdout")
    assert "--output-as" not in usage
    assert crm_mon_flavour(usage) is CrmMonFlavour.AS_XML


def test_output_as_in_prose_is_not_the_option() -> None:
    # 2.1's deprecated-options section names --output-as only inside its advice
    deprecated = [
        line for line in text("2.1.5.help-all.stdout").splitlines() if "as-xml" in line
    ] + ["                                    Use --output-as=xml instead."]
    assert crm_mon_flavour("\n".join(deprecated)) is CrmMonFlavour.AS_XML


@pytest.mark.parametrize("garbage", ["", "Usage: cat [OPTION]... [FILE]...", "--output-asx"])
def test_help_naming_neither_option_is_an_error(garbage: str) -> None:
    with pytest.raises(CrmMonCliError):
        crm_mon_flavour(garbage)


def test_versions() -> None:
    assert pacemaker_version(both("2.1.5", "version")) == "2.1.5"
    assert pacemaker_version(both("1.1.23", "version")) == "1.1.23"
    assert pacemaker_version("Pacemaker 1.1.23-1.el7_9.1\n") == "1.1.23-1.el7_9.1"
    assert pacemaker_version("crm_mon: command not found") is None


def test_argv_per_flavour() -> None:
    assert crm_mon_argv(CrmMonFlavour.OUTPUT_AS) == CRM_MON_ARGV
    assert crm_mon_argv(CrmMonFlavour.AS_XML, "/usr/sbin/crm_mon") == (
        "/usr/sbin/crm_mon",
        "--one-shot",
        "--inactive",
        "--pending",
        "--as-xml",
    )
    # every legacy option is one pacemaker 1.1.23 lists or keeps hidden (--pending)
    usage = text("1.1.23.help.stdout")
    for option in LEGACY_CRM_MON_ARGV[1:]:
        assert option in usage or option == "--pending"


# -- detection, once per binary ----------------------------------------------------------------


def test_installed_crm_mon_is_detected_once(cib_states: CibStates) -> None:
    require_pacemaker_tools()
    runner = CibFileRunner(cib_states.healthy())  # the real runner, counting its calls
    detector = CrmMonDetector(runner)
    first = detector.detect("crm_mon")
    assert (first.flavour, first.version, first.legacy) == (CrmMonFlavour.OUTPUT_AS, "2.1.5", False)
    assert first.path == shutil.which("crm_mon")
    assert first.argv == (first.path, *CRM_MON_ARGV[1:])
    assert detector.detect("crm_mon") is first
    assert detector.detect(first.path) is first
    assert runner.calls == [(first.path, "--help-all"), (first.path, "--version")]
    assert "takes --output-as=xml" in first.describe()
    result = runner.run(first.argv, timeout=30)
    assert not parse_crm_mon(result.stdout, local_tz=ZoneInfo(PCMK_TZ)).legacy


def test_pacemaker_11_standin_is_detected_as_legacy_and_its_argv_works(
    cib_states: CibStates,
) -> None:
    require_pacemaker_tools()
    detector = CrmMonDetector(SubprocessRunner())
    cli = detector.detect(str(STANDIN))
    assert (cli.flavour, cli.version, cli.legacy) == (CrmMonFlavour.AS_XML, "1.1.23", True)
    assert cli.describe() == (
        f"crm_mon 1.1.23 at {STANDIN} has no --output-as: reading its legacy --as-xml output"
    )
    result = SubprocessRunner().run(cli.argv, timeout=30, env=tool_env(cib_states.healthy()))
    status = parse_crm_mon(result.stdout, local_tz=ZoneInfo(PCMK_TZ))
    assert (result.returncode, status.legacy, status.api_version) == (0, True, "1.1.23")
    assert status.promoted_nodes("mscfpgsql") == ("hub1",)


def test_standin_on_path_answers_for_crm_mon(monkeypatch: pytest.MonkeyPatch) -> None:
    require_pacemaker_tools()
    monkeypatch.setenv("PATH", f"{STANDIN_DIR}{os.pathsep}{os.environ['PATH']}")
    assert CrmMonDetector(SubprocessRunner()).detect("crm_mon").version == "1.1.23"


def test_a_binary_changed_in_place_is_detected_again(tmp_path: Path) -> None:
    require_pacemaker_tools()
    real = shutil.which("crm_mon")
    assert real is not None
    binary = tmp_path / "crm_mon"
    binary.write_text(f'#!/bin/sh\nexec "{STANDIN}" "$@"\n')
    binary.chmod(0o755)
    runner = CibFileRunner(tmp_path / "no-cib.xml")  # the real runner, counting its calls
    detector = CrmMonDetector(runner)
    assert detector.detect(str(binary)).flavour is CrmMonFlavour.AS_XML
    assert detector.detect(str(binary)).flavour is CrmMonFlavour.AS_XML
    inode = binary.stat().st_ino
    with binary.open("w") as upgrade:  # the same file, new content: an upgrade in place
        upgrade.write(f'#!/bin/sh\nexec "{real}" "$@"\n')
    assert binary.stat().st_ino == inode
    upgraded = detector.detect(str(binary))
    assert (upgraded.flavour, upgraded.version) == (CrmMonFlavour.OUTPUT_AS, "2.1.5")
    assert len(runner.calls) == 4


def test_missing_binary_is_unavailable(tmp_path: Path) -> None:
    detector = CrmMonDetector(SubprocessRunner())
    with pytest.raises(CommandError) as raised:
        detector.detect("cfha-no-such-crm_mon")
    assert raised.value.reason == "unavailable"
    with pytest.raises(CommandError):
        detector.detect(str(tmp_path / "crm_mon"))


def test_a_binary_that_is_no_crm_mon_is_refused_and_not_remembered(tmp_path: Path) -> None:
    runner = CibFileRunner(tmp_path / "no-cib.xml")  # the real runner, counting its calls
    detector = CrmMonDetector(runner)
    true = shutil.which("true")
    assert true is not None
    for _ in range(2):
        with pytest.raises(CrmMonCliError):
            detector.detect(true)
    assert len(runner.calls) == 2  # asked again: a failed detection is not kept


def test_a_hanging_binary_times_out(tmp_path: Path) -> None:
    # a fake: a crm_mon that never answers cannot be made real
    hung = tmp_path / "crm_mon"
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    hung.chmod(0o755)
    with pytest.raises(CommandError) as raised:
        CrmMonDetector(SubprocessRunner(), timeout=0.5).detect(str(hung))
    assert raised.value.reason == "timeout"
