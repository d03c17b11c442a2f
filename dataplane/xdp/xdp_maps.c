/* xdp_maps.c — find and update the prefilter's maps with libbpf. */
#include "xdp_maps.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

static const char *const counter_names[XDP_COUNT_MAX] = XDP_COUNTER_NAMES;

const char *xdp_counter_name(unsigned c)
{
	return c < XDP_COUNT_MAX ? counter_names[c] : NULL;
}

int xdp_maps_open(const char *ifname, struct xdp_maps *m, char *err, size_t err_len)
{
	struct bpf_prog_info info;
	uint32_t map_ids[16], info_len = sizeof(info);
	int ifindex = (int)if_nametoindex(ifname), prog_fd;

	m->config = m->counters = m->block_v4 = m->block_v6 = m->allow_v4 = m->allow_v6 = -1;
	if (ifindex == 0) {
		snprintf(err, err_len, "interface %s: %s", ifname, strerror(errno));
		return -1;
	}
	if (bpf_xdp_query_id(ifindex, 0, &m->prog_id) != 0 || m->prog_id == 0) {
		snprintf(err, err_len, "interface %s has no XDP program", ifname);
		return -1;
	}
	prog_fd = bpf_prog_get_fd_by_id(m->prog_id);
	if (prog_fd < 0) {
		snprintf(err, err_len, "XDP program %u: %s", m->prog_id, strerror(errno));
		return -1;
	}
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 16;
	info.map_ids = (uint64_t)(uintptr_t)map_ids;
	int rc = bpf_obj_get_info_by_fd(prog_fd, &info, &info_len);
	close(prog_fd);
	if (rc != 0 || strcmp(info.name, "sip_prefilter") != 0) {
		snprintf(err, err_len, "the XDP program on %s is '%s', not sipreg's sip_prefilter",
			 ifname, rc ? "?" : info.name);
		return -1;
	}
	for (uint32_t i = 0; i < info.nr_map_ids && i < 16; i++) {
		struct bpf_map_info mi;
		uint32_t mi_len = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(map_ids[i]);
		int *slot = NULL;

		if (fd < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(fd, &mi, &mi_len) == 0) {
			if (!strcmp(mi.name, XDP_CONFIG_MAP_NAME)) slot = &m->config;
			else if (!strcmp(mi.name, XDP_COUNTERS_MAP_NAME)) slot = &m->counters;
			else if (!strcmp(mi.name, XDP_BLOCK_V4_MAP_NAME)) slot = &m->block_v4;
			else if (!strcmp(mi.name, XDP_BLOCK_V6_MAP_NAME)) slot = &m->block_v6;
			else if (!strcmp(mi.name, XDP_ALLOW_V4_MAP_NAME)) slot = &m->allow_v4;
			else if (!strcmp(mi.name, XDP_ALLOW_V6_MAP_NAME)) slot = &m->allow_v6;
		}
		if (slot && *slot < 0)
			*slot = fd;
		else
			close(fd);
	}
	if (m->config < 0 || m->counters < 0 || m->block_v4 < 0 || m->block_v6 < 0 ||
	    m->allow_v4 < 0 || m->allow_v6 < 0) {
		xdp_maps_close(m);
		snprintf(err, err_len, "XDP program %u lacks a map of xdp_shared.h version %d",
			 m->prog_id, XDP_SHARED_VERSION);
		return -1;
	}
	return 0;
}

void xdp_maps_close(struct xdp_maps *m)
{
	int *fds[] = { &m->config, &m->counters, &m->block_v4, &m->block_v6, &m->allow_v4, &m->allow_v6 };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int xdp_detach_stale(const char *ifname, char *err, size_t err_len)
{
	struct bpf_prog_info info;
	uint32_t prog_id = 0, info_len = sizeof(info);
	int ifindex = (int)if_nametoindex(ifname), fd, rc;

	if (ifindex == 0) {
		snprintf(err, err_len, "interface %s: %s", ifname, strerror(errno));
		return -1;
	}
	if (bpf_xdp_query_id(ifindex, 0, &prog_id) != 0 || prog_id == 0)
		return 0;
	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0) {
		snprintf(err, err_len, "XDP program %u on %s: %s", prog_id, ifname, strerror(errno));
		return -1;
	}
	memset(&info, 0, sizeof(info));
	rc = bpf_obj_get_info_by_fd(fd, &info, &info_len);
	close(fd);
	if (rc != 0 || strcmp(info.name, "sip_prefilter") != 0) {
		snprintf(err, err_len, "interface %s already has XDP program '%s' (not ours): detach it first",
			 ifname, rc ? "?" : info.name);
		return -1;
	}
	if (bpf_xdp_detach(ifindex, 0, NULL) != 0) {
		snprintf(err, err_len, "cannot detach the stale sip_prefilter from %s: %s", ifname,
			 strerror(errno));
		return -1;
	}
	return 1;
}

int xdp_maps_set_config(const struct xdp_maps *m, const struct xdp_config *cfg)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(m->config, &zero, cfg, BPF_ANY) ? -errno : 0;
}

/* Fills the trie key for p into k4 or k6; returns the fd of the trie of
 * its family among (v4, v6), or -EINVAL. */
static int trie_key(const struct xdp_prefix *p, int fd_v4, int fd_v6, struct xdp_v4_key *k4,
		    struct xdp_v6_key *k6, void **key)
{
	if (p->family == 4 && p->prefix_len <= 32) {
		k4->prefixlen = p->prefix_len;
		memcpy(k4->addr, p->addr, 4);
		*key = k4;
		return fd_v4;
	}
	if (p->family == 6 && p->prefix_len <= 128) {
		k6->prefixlen = p->prefix_len;
		memcpy(k6->addr, p->addr, 16);
		*key = k6;
		return fd_v6;
	}
	return -EINVAL;
}

int xdp_maps_block(const struct xdp_maps *m, const struct xdp_prefix *p, uint64_t expires_ns,
		   enum xdp_block_reason reason)
{
	struct xdp_v4_key k4;
	struct xdp_v6_key k6;
	struct xdp_block value = { expires_ns, (uint32_t)reason, 0 };
	void *key;
	int fd = trie_key(p, m->block_v4, m->block_v6, &k4, &k6, &key);

	if (fd < 0)
		return fd;
	return bpf_map_update_elem(fd, key, &value, BPF_ANY) ? -errno : 0;
}

int xdp_maps_unblock(const struct xdp_maps *m, const struct xdp_prefix *p)
{
	struct xdp_v4_key k4;
	struct xdp_v6_key k6;
	void *key;
	int fd = trie_key(p, m->block_v4, m->block_v6, &k4, &k6, &key);

	if (fd < 0)
		return fd;
	return bpf_map_delete_elem(fd, key) ? -errno : 0;
}

int xdp_maps_allow(const struct xdp_maps *m, const struct xdp_prefix *p)
{
	struct xdp_v4_key k4;
	struct xdp_v6_key k6;
	uint8_t one = 1;
	void *key;
	int fd = trie_key(p, m->allow_v4, m->allow_v6, &k4, &k6, &key);

	if (fd < 0)
		return fd;
	return bpf_map_update_elem(fd, key, &one, BPF_ANY) ? -errno : 0;
}

int xdp_maps_disallow(const struct xdp_maps *m, const struct xdp_prefix *p)
{
	struct xdp_v4_key k4;
	struct xdp_v6_key k6;
	void *key;
	int fd = trie_key(p, m->allow_v4, m->allow_v6, &k4, &k6, &key);

	if (fd < 0)
		return fd;
	return bpf_map_delete_elem(fd, key) ? -errno : 0;
}

int xdp_maps_counters(const struct xdp_maps *m, uint64_t out[XDP_COUNT_MAX])
{
	int n_cpus = libbpf_num_possible_cpus();
	uint64_t *values;

	if (n_cpus <= 0)
		return -EINVAL;
	values = calloc((size_t)n_cpus, sizeof(*values));
	if (!values)
		return -ENOMEM;
	for (uint32_t c = 0; c < XDP_COUNT_MAX; c++) {
		out[c] = 0;
		if (bpf_map_lookup_elem(m->counters, &c, values) != 0) {
			int e = errno;
			free(values);
			return -e;
		}
		for (int i = 0; i < n_cpus; i++)
			out[c] += values[i];
	}
	free(values);
	return 0;
}
