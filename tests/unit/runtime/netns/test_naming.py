"""Names and labels of what the netns backend creates: short enough, found again."""

from __future__ import annotations

from squall.runtime.netns import naming


def test_names_fit_the_kernel_and_are_found_again() -> None:
    project = "a-very-long-project-name-indeed"
    bridge = naming.bridge_name(project, 5)
    veth = naming.veth_name(project, 12345)
    assert len(bridge) <= 15 and len(veth) <= 15
    assert naming.link_number(project, veth, "v") == 12345
    assert naming.link_number("other", veth, "v") is None
    assert naming.service_of_netns("ab", naming.netns_name("ab", "c.d")) == "c.d"
    assert naming.service_of_netns("a", naming.netns_name("ab", "c")) is None


def test_labels_round_trip_and_reject_foreign_aliases() -> None:
    fields = {"p": "proj", "s": "svc", "a": "web,db", "n": "odd name"}
    assert naming.decode_label(naming.encode_label(fields)) == fields
    assert naming.decode_label("docker something") is None
    assert naming.decode_label(None) is None
