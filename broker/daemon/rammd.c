/* SPDX-License-Identifier: MIT */
/*
 * rammd: the host memory broker. Each tick it collects the guests' bids,
 * clears the market (market.c) and resizes the virtio-mem devices whose
 * target changed, through the guests' backends.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "agent_chan.h"
#include "control.h"
#include "guest.h"
#include "hugepool.h"
#include "log.h"
#include "market.h"
#include "metrics.h"
#include "proc_sample.h"
#include "rammd.h"
#include "ctl_commands.h"

#define MIB (1024ULL * 1024ULL)
#define RAMMD_SCAN_SUFFIX ".qmp"
#define RAMMD_AGENT_SUFFIX ".agent"

int64_t rammd_now_us(void)
{
	return g_get_monotonic_time();
}

uint64_t rammd_unit_bytes(const struct rammd *d)
{
	return d->cfg.unit_mib * MIB;
}

uint32_t rammd_guest_weight(const struct rammd *d, const struct guest *g)
{
	if (g->ov.weight)
		return g->ov.weight;
	return g->cfg.weight ? g->cfg.weight : d->cfg.default_weight;
}


/* ---- guests ------------------------------------------------------------ */

struct guest *rammd_find_guest(struct rammd *d, const char *name)
{
	for (guint i = 0; i < d->guests->len; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		if (!strcmp(g->cfg.name, name))
			return g;
	}
	return NULL;
}

/* ---- the state file ----------------------------------------------------- */

static struct state_entry *rammd_saved_entry(struct rammd *d, const char *name)
{
	for (size_t i = 0; i < d->n_saved; i++)
		if (!strcmp(d->saved[i].name, name))
			return &d->saved[i];
	return NULL;
}

/* Give a guest back what the state file kept for it. */
static void rammd_restore_guest(struct rammd *d, struct guest *g)
{
	struct state_entry *e = rammd_saved_entry(d, g->cfg.name);

	if (!e)
		return;
	g->ov = e->ov;
	if (e->have_account) {
		g->account = e->account;
		g->account_open = 1;
	}
	log_info("guest %s: restored from the state file: credit %.3f, balance %llu%s%s",
		 g->cfg.name, g->account.credit / 1000.0,
		 (unsigned long long)g->account.balance,
		 g->ov.excluded ? ", excluded" : "", g->ov.drain ? ", draining" : "");
}

/* Write every known guest's record, and keep the records of guests not
 * here now. Logs a failure; the next save tries again. */
static void rammd_save_state(struct rammd *d)
{
	int ret;

	for (guint i = 0; i < d->guests->len; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);
		struct state_entry *e = rammd_saved_entry(d, g->cfg.name);

		if (!e) {
			if (d->n_saved >= STATE_MAX_ENTRIES)
				continue;
			e = &d->saved[d->n_saved++];
			memset(e, 0, sizeof(*e));
			snprintf(e->name, sizeof(e->name), "%s", g->cfg.name);
		}
		e->ov = g->ov;
		e->have_account = g->account_open;
		e->account = g->account;
	}
	ret = state_save(d->cfg.state_file, d->saved, d->n_saved);
	if (ret)
		log_err("state file %s: cannot save: %s", d->cfg.state_file,
			strerror(-ret));
}

static gboolean rammd_on_save(gpointer data)
{
	struct rammd *d = data;

	d->save_source = 0;
	rammd_save_state(d);
	return G_SOURCE_REMOVE;
}

void rammd_state_changed(struct rammd *d)
{
	if (!d->save_source)
		d->save_source = g_idle_add(rammd_on_save, d);
}

/* Read the state file at start. A bad file is set aside, never trusted
 * in part: every guest then starts afresh, keeping its current size. */
static void rammd_load_state(struct rammd *d)
{
	char err[256], aside[CONFIG_MAX_SOCKET_PATH + 8];
	int ret;

	d->saved = g_new0(struct state_entry, STATE_MAX_ENTRIES);
	ret = state_load(d->cfg.state_file, d->saved, STATE_MAX_ENTRIES,
			 &d->n_saved, err, sizeof(err));
	if (!ret) {
		log_info("state file %s: %zu guests", d->cfg.state_file, d->n_saved);
		return;
	}
	d->n_saved = 0;
	if (ret == -ENOENT) {
		log_info("state file %s: none yet; guests start with fresh accounts",
			 d->cfg.state_file);
		return;
	}
	snprintf(aside, sizeof(aside), "%s.bad", d->cfg.state_file);
	log_err("state file %s: %s; set aside as %s, guests start with fresh accounts",
		d->cfg.state_file, ret == -EINVAL ? err : strerror(-ret), aside);
	if (rename(d->cfg.state_file, aside))
		log_err("state file %s: cannot set it aside: %s", d->cfg.state_file,
			strerror(errno));
}

/* A [guest NAME] section with no sockets: settings for a guest found by
 * scan_dir or libvirt. */
static const struct guest_config *rammd_settings_for(const struct rammd *d,
						     const char *name)
{
	for (size_t i = 0; i < d->cfg.n_guests; i++)
		if (!d->cfg.guests[i].qmp_path[0] && !strcmp(d->cfg.guests[i].name, name))
			return &d->cfg.guests[i];
	return NULL;
}

static struct guest *rammd_add_guest(struct rammd *d,
				     const struct guest_config *found, int from_scan,
				     const struct backend_ops *backend)
{
	const struct guest_config *settings = rammd_settings_for(d, found->name);
	struct guest_config merged = *found, *gc = &merged;
	struct guest *g;
	int ret;

	if (settings) {
		merged.floor_mib = settings->floor_mib;
		merged.cap_mib = settings->cap_mib;
		merged.weight = settings->weight;
		merged.excluded = settings->excluded;
	}

	if (d->guests->len >= CONFIG_MAX_GUESTS) {
		log_err("guest %s: more than %d guests; not managed", gc->name,
			CONFIG_MAX_GUESTS);
		return NULL;
	}
	g = guest_new(d, gc, backend);
	if (!g)
		return NULL;
	g->from_scan = from_scan;
	rammd_restore_guest(d, g);
	ret = guest_start(g);
	if (ret) {
		log_err("guest %s: cannot start: %s", gc->name, strerror(-ret));
		guest_free(g);
		return NULL;
	}
	g_ptr_array_add(d->guests, g);
	if (backend == &backend_qmp_ops)
		log_info("guest %s: managing (qmp %s, agent %s%s)", gc->name,
			 gc->qmp_path, gc->agent_path,
			 gc->qmp_shared ? ", Proxmox VM found in proxmox_dir"
					: from_scan ? ", found by scan" : "");
	else
		log_info("guest %s: managing (%s domain, agent %s)", gc->name,
			 backend->name, gc->agent_path);
	return g;
}

struct guest *rammd_add_libvirt_guest(struct rammd *d, const char *name,
				      const char *agent_path)
{
	struct guest_config gc = { 0 };

	if (strlen(name) >= sizeof(gc.name) ||
	    strlen(agent_path) >= sizeof(gc.agent_path))
		return NULL;
	strcpy(gc.name, name);
	strcpy(gc.agent_path, agent_path);
	return rammd_add_guest(d, &gc, 1, &backend_libvirt_ops);
}

void rammd_remove_guest(struct rammd *d, struct guest *g, const char *why)
{
	log_info("guest %s: no longer managed: %s", g->cfg.name, why);
	/* Its account and overrides wait in the state file for its return. */
	rammd_save_state(d);
	g_ptr_array_remove(d->guests, g);
	guest_free(g);
}

/* Adopt the pair @gc found by a scan, or mark the guest of that name seen. */
static void rammd_scan_found(struct rammd *d, const struct guest_config *gc)
{
	struct guest *g = rammd_find_guest(d, gc->name);

	if (!g)
		g = rammd_add_guest(d, gc, 1, &backend_qmp_ops);
	if (g)
		g->seen = 1;
}

static int rammd_is_socket(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISSOCK(st.st_mode);
}

/*
 * scan_dir holds NAME.qmp (QMP) and NAME.agent (agent channel) sockets, one
 * pair per VM, named like Proxmox's /var/run/qemu-server/VMID.qmp but in a
 * directory of rammd's own: a QMP socket serves one client at a time.
 */
static void rammd_scan_own(struct rammd *d)
{
	DIR *dir = opendir(d->cfg.scan_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct guest_config gc = { 0 };
		size_t len = strlen(de->d_name), base = len - strlen(RAMMD_SCAN_SUFFIX);

		if (len <= strlen(RAMMD_SCAN_SUFFIX) || base >= sizeof(gc.name) ||
		    strcmp(de->d_name + base, RAMMD_SCAN_SUFFIX))
			continue;
		memcpy(gc.name, de->d_name, base);
		if ((size_t)snprintf(gc.qmp_path, sizeof(gc.qmp_path), "%s/%s",
				     d->cfg.scan_dir, de->d_name) >= sizeof(gc.qmp_path) ||
		    (size_t)snprintf(gc.agent_path, sizeof(gc.agent_path), "%s/%s%s",
				     d->cfg.scan_dir, gc.name, RAMMD_AGENT_SUFFIX) >=
			    sizeof(gc.agent_path))
			continue;
		if (rammd_is_socket(gc.qmp_path))
			rammd_scan_found(d, &gc);
	}
	closedir(dir);
}

/* A Proxmox VMID: digits only, no leading zero, 100..999999999. */
static int rammd_is_vmid(const char *s, size_t len)
{
	if (len < 3 || len > 9 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/*
 * proxmox_dir holds qemu-server's VMID.qmp sockets, which qemu-server uses
 * itself: those guests get the QMP backend's shared (polite) mode. A VM
 * takes part only once its agent socket, proxmox_agent_dir/VMID.agent
 * (what ramm-pve-args adds to its args: line), exists too; it is named by
 * its VMID.
 */
static void rammd_scan_proxmox(struct rammd *d)
{
	DIR *dir = opendir(d->cfg.proxmox_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct guest_config gc = { .qmp_shared = 1 };
		size_t len = strlen(de->d_name), base = len - strlen(RAMMD_SCAN_SUFFIX);

		if (len <= strlen(RAMMD_SCAN_SUFFIX) ||
		    strcmp(de->d_name + base, RAMMD_SCAN_SUFFIX) ||
		    !rammd_is_vmid(de->d_name, base))
			continue;
		memcpy(gc.name, de->d_name, base);
		if ((size_t)snprintf(gc.qmp_path, sizeof(gc.qmp_path), "%s/%s",
				     d->cfg.proxmox_dir, de->d_name) >= sizeof(gc.qmp_path) ||
		    (size_t)snprintf(gc.agent_path, sizeof(gc.agent_path), "%s/%s%s",
				     d->cfg.proxmox_agent_dir, gc.name,
				     RAMMD_AGENT_SUFFIX) >= sizeof(gc.agent_path))
			continue;
		if (rammd_is_socket(gc.qmp_path) && rammd_is_socket(gc.agent_path))
			rammd_scan_found(d, &gc);
	}
	closedir(dir);
}

/*
 * Both scans. A QMP guest found by one whose sockets disappear (the VM
 * stopped) is forgotten; configured guests and libvirt domains are never
 * dropped here. A directory that cannot be read drops nothing.
 */
static void rammd_scan(struct rammd *d)
{
	if (!d->cfg.scan_dir[0] && !d->cfg.proxmox_dir[0])
		return;
	if ((d->cfg.scan_dir[0] && access(d->cfg.scan_dir, R_OK | X_OK)) ||
	    (d->cfg.proxmox_dir[0] && access(d->cfg.proxmox_dir, R_OK | X_OK)))
		return;
	for (guint i = 0; i < d->guests->len; i++)
		((struct guest *)g_ptr_array_index(d->guests, i))->seen = 0;
	if (d->cfg.scan_dir[0])
		rammd_scan_own(d);
	if (d->cfg.proxmox_dir[0])
		rammd_scan_proxmox(d);
	for (guint i = d->guests->len; i-- > 0;) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		if (g->from_scan && !g->seen && g->backend == &backend_qmp_ops)
			rammd_remove_guest(d, g, g->cfg.qmp_shared
					   ? "its QMP or agent socket is gone"
					   : "its QMP socket is gone");
	}
}

static gboolean rammd_on_scan(gpointer data)
{
	rammd_scan(data);
	return G_SOURCE_CONTINUE;
}

/* ---- the control socket ------------------------------------------------ */

static struct json_object *json_mib(uint64_t bytes)
{
	return json_object_new_uint64(bytes / MIB);
}

static struct json_object *rammd_guest_json(struct rammd *d, struct guest *g,
					    int64_t now)
{
	struct json_object *o = json_object_new_object();
	struct json_object *bid = json_object_new_array();
	struct json_object *cnt = json_object_new_object();
	struct json_object *rs = json_object_new_object();
	const struct guest_counters *c = &g->counters;
	uint64_t unit = g->unit_bytes;

	json_object_object_add(o, "name", json_object_new_string(g->cfg.name));
	json_object_object_add(o, "backend", json_object_new_string(g->backend->name));
	json_object_object_add(o, "mode", json_object_new_string(g->mode[0] ? g->mode : "none"));
	json_object_object_add(o, "device_ready", json_object_new_boolean(g->device_ready));
	json_object_object_add(o, "agent_connected", json_object_new_boolean(agent_chan_is_up(g->chan)));
	json_object_object_add(o, "floor_mib", json_mib(g->floor_bytes));
	json_object_object_add(o, "cap_mib", json_mib(g->cap_bytes));
	json_object_object_add(o, "boot_mib", json_mib(g->dev.boot_bytes));
	json_object_object_add(o, "size_mib", json_mib(guest_total_bytes(g)));
	json_object_object_add(o, "requested_mib",
			       json_mib(g->device_ready ? g->dev.boot_bytes + g->dev.requested_bytes : 0));
	json_object_object_add(o, "target_mib",
			       json_mib(g->device_ready ? g->floor_bytes + (uint64_t)g->target_units * unit : 0));
	json_object_object_add(o, "unit_kib", json_object_new_uint64(unit / 1024));
	json_object_object_add(o, "page_kib", json_object_new_uint64(g->dev.page_bytes / 1024));
	json_object_object_add(o, "host_nodes", json_object_new_uint64(g->dev.host_nodes));
	json_object_object_add(o, "pool", json_object_new_string(!g->unit_bytes ? "none"
			       : g->dev.page_bytes > (uint64_t)getpagesize() ? "hugetlb" : "ordinary"));
	json_object_object_add(o, "offer_mib",
			       json_mib((uint64_t)guest_offered_units(g) * unit));
	if (g->have_report && g->report.have_hist) {
		struct json_object *hist = json_object_new_array();

		for (size_t i = 0; i < RAMM_HIST_SIZES; i++)
			json_object_array_add(hist, json_object_new_uint64(g->report.hist_vmem[i]));
		json_object_object_add(o, "hist_vmem", hist);
	}
	json_object_object_add(o, "price", json_object_new_uint64(g->price));
	json_object_object_add(o, "resizing", json_object_new_boolean(g->resizing));
	json_object_object_add(o, "report_age_ms",
			       g->have_report ? json_object_new_int64((now - g->report_us) / 1000) : NULL);
	json_object_object_add(o, "report_seq", json_object_new_uint64(g->report.seq));
	json_object_object_add(o, "urgent", json_object_new_boolean(g->have_report && g->report.urgent));
	json_object_object_add(o, "mem_available_mib",
			       json_object_new_uint64(g->report.mem_available_kib / 1024));
	json_object_object_add(o, "psi_some_avg10", json_object_new_double(g->report.psi_some_avg10));
	json_object_object_add(o, "weight", json_object_new_uint64(rammd_guest_weight(d, g)));
	json_object_object_add(o, "credit", json_object_new_double(g->account.credit / 1000.0));
	json_object_object_add(o, "balance", json_object_new_uint64(g->account.balance));
	json_object_object_add(o, "paid_total", json_object_new_uint64(g->paid_total));
	json_object_object_add(o, "overrides", ctl_commands_overrides_json(g));
	for (size_t i = 0; i < g->report.n_bid; i++) {
		struct json_object *step = json_object_new_array();

		json_object_array_add(step, json_object_new_int64(g->report.bid[i].units));
		json_object_array_add(step, json_object_new_int64(g->report.bid[i].price));
		json_object_array_add(bid, step);
	}
	json_object_object_add(o, "bid", bid);
	json_object_object_add(o, "bid_unit_bytes", json_object_new_uint64(g->report.unit_bytes));
#define CNT(f) json_object_object_add(cnt, #f, json_object_new_uint64(c->f))
	CNT(reports); CNT(hellos); CNT(oversize); CNT(bad_json); CNT(bad_field);
	CNT(unknown_type); CNT(rate_limited); CNT(bad_unit); CNT(resize_errors);
	CNT(resize_short);
#undef CNT
	json_object_object_add(o, "counters", cnt);
	json_object_object_add(rs, "from_mib", json_mib(g->resize.from_bytes));
	json_object_object_add(rs, "to_mib", json_mib(g->resize.to_bytes));
	json_object_object_add(rs, "report_us", json_object_new_int64(g->resize.report_us));
	json_object_object_add(rs, "decided_us", json_object_new_int64(g->resize.decided_us));
	json_object_object_add(rs, "done_us", json_object_new_int64(g->resize.done_us));
	json_object_object_add(o, "last_resize", rs);
	return o;
}

struct json_object *rammd_state_json(struct rammd *d)
{
	struct json_object *o = json_object_new_object();
	struct json_object *guests = json_object_new_array();
	struct json_object *pools = json_object_new_array();
	struct json_object *tick_us = json_object_new_array();
	int64_t now = rammd_now_us();

	json_object_object_add(o, "now_us", json_object_new_int64(now));
	json_object_object_add(o, "ticks", json_object_new_uint64(d->ticks));
	/* The last ticks' durations, oldest first: tick t's is at t % size. */
	for (uint64_t t = d->ticks > RAMMD_TICK_HISTORY ? d->ticks - RAMMD_TICK_HISTORY + 1 : 1;
	     t <= d->ticks; t++)
		json_object_array_add(tick_us, json_object_new_uint64(d->tick_us[t % RAMMD_TICK_HISTORY]));
	json_object_object_add(o, "tick_us", tick_us);
	json_object_object_add(o, "price", json_object_new_uint64(d->price));
	json_object_object_add(o, "unit_mib", json_object_new_uint64(d->cfg.unit_mib));
	json_object_object_add(o, "supply_mib", json_mib(d->supply_bytes));
	json_object_object_add(o, "allocated_mib", json_mib(d->allocated_bytes));
	json_object_object_add(o, "demand_mib", json_mib(d->demand_bytes));
	json_object_object_add(o, "reserve_price", json_object_new_uint64(d->cfg.reserve_price));
	json_object_object_add(o, "emergency", json_object_new_boolean(d->emergency));
	for (size_t i = 0; i < d->n_pools; i++) {
		const struct plan_pool *p = &d->pools[i];
		struct json_object *po = json_object_new_object();

		json_object_object_add(po, "name", json_object_new_string(p->name));
		json_object_object_add(po, "page_kib", json_object_new_uint64(p->page_bytes / 1024));
		json_object_object_add(po, "host_nodes", json_object_new_uint64(p->host_nodes));
		json_object_object_add(po, "unit_kib", json_object_new_uint64(p->unit_bytes / 1024));
		json_object_object_add(po, "guests", json_object_new_uint64(p->n_guests));
		json_object_object_add(po, "price", json_object_new_uint64(p->price));
		json_object_object_add(po, "supply_mib", json_mib(p->supply_bytes));
		json_object_object_add(po, "free_mib", json_mib(p->free_bytes));
		json_object_object_add(po, "allocated_mib", json_mib(p->allocated_bytes));
		json_object_object_add(po, "demand_mib", json_mib(p->demand_bytes));
		json_object_array_add(pools, po);
	}
	json_object_object_add(o, "pools", pools);
	for (guint i = 0; i < d->guests->len; i++)
		json_object_array_add(guests,
				      rammd_guest_json(d, g_ptr_array_index(d->guests, i), now));
	json_object_object_add(o, "guests", guests);
	return o;
}

/* The control commands are ctl_commands_handle() (ctl_commands.c). */

/* ---- main -------------------------------------------------------------- */

static gboolean rammd_on_quit(gpointer data)
{
	struct rammd *d = data;

	log_info("signal: shutting down; guests keep their current sizes");
	g_main_loop_quit(d->loop);
	return G_SOURCE_CONTINUE;
}

/* A guest's settings under @cfg: its own [guest] section (by sockets for
 * a configured guest, by name for one found), else none. */
static void rammd_apply_settings(const struct rammd_config *cfg, struct guest *g)
{
	struct guest_config *gc = &g->cfg;

	gc->floor_mib = gc->cap_mib = 0;
	gc->weight = gc->excluded = 0;
	for (size_t i = 0; i < cfg->n_guests; i++) {
		const struct guest_config *s = &cfg->guests[i];

		if (strcmp(s->name, gc->name) || (!g->from_scan && !s->qmp_path[0]))
			continue;
		gc->floor_mib = s->floor_mib;
		gc->cap_mib = s->cap_mib;
		gc->weight = s->weight;
		gc->excluded = s->excluded;
		return;
	}
}

/* Keys a reload cannot change: sockets, files and the unit that accounts
 * and bids are counted in. Kept as they were, with a warning. */
static void rammd_keep_restart_keys(const struct rammd_config *old,
				    struct rammd_config *next)
{
#define KEEP_STR(f) do { if (strcmp(old->f, next->f)) { \
		log_warn("reload: %s changed; it takes effect at the next start", #f); \
		snprintf(next->f, sizeof(next->f), "%s", old->f); } } while (0)
	KEEP_STR(control_socket);
	KEEP_STR(state_file);
	KEEP_STR(metrics_listen);
	KEEP_STR(libvirt_uri);
	KEEP_STR(scan_dir);
	KEEP_STR(proxmox_dir);
	KEEP_STR(proxmox_agent_dir);
#undef KEEP_STR
	if (old->unit_mib != next->unit_mib) {
		log_warn("reload: unit_mib changed; it takes effect at the next start");
		next->unit_mib = old->unit_mib;
	}
}

/*
 * SIGHUP: read the config file again. A file that does not load changes
 * nothing. Otherwise the market keys apply from the next tick, configured
 * guests come and go with their sections, and every guest's floor, cap,
 * weight and exclusion follow its section (operator overrides still win).
 */
static void rammd_reload(struct rammd *d)
{
	struct rammd_config *next = g_new(struct rammd_config, 1);
	char err[512];
	int ret = config_load(d->config_path, next, err, sizeof(err));

	if (ret) {
		log_err("reload: %s; keeping the running configuration", err);
		g_free(next);
		return;
	}
	rammd_keep_restart_keys(&d->cfg, next);
	/* Configured guests whose section is gone are let go, as they are. */
	for (guint i = d->guests->len; i-- > 0;) {
		struct guest *g = g_ptr_array_index(d->guests, i);
		int kept = g->from_scan;

		for (size_t k = 0; !kept && k < next->n_guests; k++)
			kept = !strcmp(next->guests[k].name, g->cfg.name) &&
			       !strcmp(next->guests[k].qmp_path, g->cfg.qmp_path) &&
			       !strcmp(next->guests[k].agent_path, g->cfg.agent_path);
		if (!kept)
			rammd_remove_guest(d, g, "its [guest] section changed or is gone");
	}
	if (next->tick_ms != d->cfg.tick_ms) {
		g_source_remove(d->tick_source);
		d->tick_source = g_timeout_add(next->tick_ms, rammd_on_tick, d);
	}
	d->cfg = *next;
	g_free(next);
	for (guint i = 0; i < d->guests->len; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		rammd_apply_settings(&d->cfg, g);
		if (g->dev_known)
			guest_overrides_changed(g);
	}
	for (size_t k = 0; k < d->cfg.n_guests; k++)
		if (d->cfg.guests[k].qmp_path[0] &&
		    !rammd_find_guest(d, d->cfg.guests[k].name))
			rammd_add_guest(d, &d->cfg.guests[k], 0, &backend_qmp_ops);
	log_info("reload: %s applied: %u guests, tick %u ms", d->config_path,
		 d->guests->len, d->cfg.tick_ms);
}

static gboolean rammd_on_hup(gpointer data)
{
	rammd_reload(data);
	return G_SOURCE_CONTINUE;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rammd [-c FILE] [-v]\n"
		"       rammd --check-config FILE\n"
		"  -c, --config FILE    configuration (default /etc/ramm/rammd.conf)\n"
		"      --check-config FILE  validate FILE and exit (0 valid, 1 invalid)\n"
		"  -v, --verbose        debug logging\n"
		"  -h, --help\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct rammd d = { 0 };
	const char *path = "/etc/ramm/rammd.conf";
	char err[512];
	int opt, check_only = 0, ret, group_err;

	while ((opt = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			path = optarg;
			check_only = 1;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	d.config_path = path;
	ret = config_load(path, &d.cfg, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "rammd: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("%s: ok (%zu guests)\n", path, d.cfg.n_guests);
		return 0;
	}
	d.loop = g_main_loop_new(NULL, FALSE);
	d.guests = g_ptr_array_new();
	d.control = control_new(d.cfg.control_socket, ctl_commands_handle, &d,
				&group_err);
	if (!d.control) {
		log_err("control socket %s: %s", d.cfg.control_socket, strerror(errno));
		return 1;
	}
	if (group_err)
		log_warn("control socket %s: cannot give it to group %s (%s): only root can use rammctl",
			 d.cfg.control_socket, CONTROL_ADMIN_GROUP, strerror(group_err));
	ctl_commands_start_metrics(&d);
	rammd_load_state(&d);
	for (size_t i = 0; i < d.cfg.n_guests; i++)
		if (d.cfg.guests[i].qmp_path[0])
			rammd_add_guest(&d, &d.cfg.guests[i], 0, &backend_qmp_ops);
	rammd_scan(&d);
	if (d.cfg.libvirt_uri[0])
		backend_libvirt_start(&d, d.cfg.libvirt_uri);

	g_unix_signal_add(SIGTERM, rammd_on_quit, &d);
	g_unix_signal_add(SIGINT, rammd_on_quit, &d);
	g_unix_signal_add(SIGHUP, rammd_on_hup, &d);
	d.tick_source = g_timeout_add(d.cfg.tick_ms, rammd_on_tick, &d);
	if (d.cfg.scan_dir[0] || d.cfg.proxmox_dir[0])
		g_timeout_add(2000, rammd_on_scan, &d);
	log_info("rammd started: %zu configured guests, scan_dir %s, proxmox_dir %s, tick %u ms, control %s",
		 d.cfg.n_guests, d.cfg.scan_dir[0] ? d.cfg.scan_dir : "(none)",
		 d.cfg.proxmox_dir[0] ? d.cfg.proxmox_dir : "(none)",
		 d.cfg.tick_ms, d.cfg.control_socket);

	g_main_loop_run(d.loop);
	rammd_save_state(&d);

	for (guint i = 0; i < d.guests->len; i++)
		guest_free(g_ptr_array_index(d.guests, i));
	backend_libvirt_stop();
	g_ptr_array_free(d.guests, TRUE);
	g_free(d.saved);
	control_free(d.control);
	metrics_free(d.metrics);
	g_main_loop_unref(d.loop);
	return 0;
}
