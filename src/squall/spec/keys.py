"""Which keys each block of a compose file may hold, and what Squall does with them.

Every key is in one of three classes: read by Squall; written in some Compose file
format (the current compose-spec schema, the v2/v3 schemas or the v1 format) but not
acted on, which earns a one-line warning; or in no format at all, which is an error
that suggests the closest known key, because it is almost always a typo. `x-*` keys
are Compose extensions and are skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from squall.spec.node import Node, suggestion

IGNORED = "not acted on by squall (ignored)"


@dataclass(frozen=True)
class Keys:
    """The keys of one kind of block: those Squall reads and those it only accepts."""

    read: frozenset[str]
    ignored: frozenset[str] = frozenset()

    def entries(self, node: Node, warnings: list[str]) -> dict[str, Node]:
        """The entries of mapping `node` that Squall reads.

        Appends a warning for each accepted-but-ignored key.

        Raises:
            SpecError: `node` is not a mapping, or holds a key of no Compose format.
        """
        kept: dict[str, Node] = {}
        for key, child in node.optional_mapping().items():
            if key.startswith("x-"):
                continue
            if key in self.read:
                kept[key] = child
            elif key in self.ignored:
                warnings.append(child.warning(IGNORED))
            else:
                hint = suggestion(key, self.read | self.ignored)
                child.fail(f"unknown key{hint}", at_key=True)
        return kept


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


TOP_LEVEL = Keys(
    read=_words("version name services networks volumes secrets configs"),
    ignored=_words("models"),
)

SERVICE = Keys(
    read=_words(
        """
        image build command entrypoint environment env_file ports expose volumes
        networks network_mode net depends_on links healthcheck hostname container_name
        cap_add cap_drop privileged restart labels working_dir user tty stdin_open init
        extra_hosts profiles scale deploy cpus cpu_shares mem_limit mem_reservation
        pids_limit shm_size ulimits tmpfs read_only sysctls logging dns dns_search
        stop_signal stop_grace_period secrets configs post_start pre_stop
        """
    ),
    ignored=_words(
        """
        annotations attach blkio_config cgroup cgroup_parent cpu_count cpu_percent
        cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpuset credential_spec develop
        device_cgroup_rules devices dns_opt domainname external_links gpus group_add ipc
        isolation label_file mac_address mem_swappiness memswap_limit models
        oom_kill_disable oom_score_adj pid platform provider pull_policy
        pull_refresh_after runtime security_opt storage_opt use_api_socket userns_mode
        uts volumes_from dockerfile log_driver log_opt volume_driver
        """
    ),
)

BUILD = Keys(
    read=_words("context dockerfile args target"),
    ignored=_words(
        """
        dockerfile_inline entitlements ssh labels cache_from cache_to no_cache
        additional_contexts network pull shm_size extra_hosts isolation privileged
        secrets tags ulimits platforms
        """
    ),
)

HEALTHCHECK = Keys(
    read=_words("test interval timeout retries start_period disable"),
    ignored=_words("start_interval"),
)

DEPLOY = Keys(
    read=_words("replicas resources mode placement"),
    ignored=_words("labels update_config rollback_config restart_policy endpoint_mode"),
)

PLACEMENT = Keys(read=_words("constraints"), ignored=_words("preferences max_replicas_per_node"))

SERVICE_SQUALL = Keys(read=_words("host"))
"""A service's own `x-squall:` block."""

RESOURCES = Keys(read=_words("limits reservations"))

RESOURCE_LIMITS = Keys(read=_words("cpus memory pids"), ignored=_words("devices generic_resources"))

ULIMIT = Keys(read=_words("soft hard"))

HOOK = Keys(read=_words("command user privileged working_dir environment"))

LOGGING = Keys(read=_words("driver options"))

FILE_MOUNT = Keys(read=_words("source target uid gid mode"))

SECRET = Keys(
    read=_words("file environment content external name"),
    ignored=_words("labels driver driver_opts template_driver"),
)

DEPENDS_ON = Keys(read=_words("condition required restart"))

SERVICE_NETWORK = Keys(
    read=_words("aliases ipv4_address"),
    ignored=_words(
        "ipv6_address interface_name link_local_ips mac_address driver_opts priority gw_priority"
    ),
)

PORT = Keys(
    read=_words("target published host_ip protocol"),
    ignored=_words("name mode app_protocol"),
)

MOUNT = Keys(
    read=_words("type source target read_only"),
    ignored=_words("consistency bind volume tmpfs image"),
)

ENV_FILE = Keys(read=_words("path required"), ignored=_words("format"))

NETWORK = Keys(
    read=_words("driver ipam internal external name labels attachable enable_ipv6"),
    ignored=_words("driver_opts enable_ipv4"),
)

IPAM = Keys(read=_words("config"), ignored=_words("driver options"))

IPAM_CONFIG = Keys(read=_words("subnet gateway"), ignored=_words("ip_range aux_addresses"))

VOLUME = Keys(
    read=_words("driver external name labels"),
    ignored=_words("driver_opts"),
)

EXTERNAL = Keys(read=_words("name"))

SQUALL_PRESETS = Keys(read=_words("slow flaky duplicate"))

BLOCKADE_TOP_LEVEL = Keys(read=_words("containers network"))

BLOCKADE_CONTAINER = Keys(
    read=_words(
        """
        image command links ports expose volumes environment hostname start_delay
        count holy neutral container_name cap_add
        """
    ),
    ignored=_words("dns"),
)

BLOCKADE_NETWORK = Keys(read=_words("driver flaky slow duplicate"))
