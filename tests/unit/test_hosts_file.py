"""``loopback_hosts``: the lines are added while the block runs and only they are removed, even on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tether.testing.hosts_file import loopback_hosts


def test_lines_are_added_and_only_they_are_removed_even_when_the_block_fails(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")

    def failing_test() -> None:
        with loopback_hosts(["a.blob.core.tether.localhost"], hosts_file=hosts):
            assert "127.0.0.1 a.blob.core.tether.localhost" in hosts.read_text()
            with hosts.open("a") as other:  # another test's line, added meanwhile, stays
                other.write("127.0.0.1 other\n")
            raise RuntimeError("the test failed")

    with pytest.raises(RuntimeError):
        failing_test()
    assert hosts.read_text() == "127.0.0.1 localhost\n127.0.0.1 other\n"


def test_a_name_that_is_not_a_host_name_is_refused(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("")

    with pytest.raises(ValueError, match="not a host name"), loopback_hosts(["x\n1.2.3.4 y"], hosts_file=hosts):
        pass
    assert hosts.read_text() == ""
