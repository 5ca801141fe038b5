/* SPDX-License-Identifier: MIT */
/*
 * rammd: the host memory broker. This file is main, signals and reload;
 * each other role has its own file: discover_*.c (where guests come from),
 * registry.c (the managed guests), guest.c (one guest), tick.c (the market
 * tick), persist.c (the state file), status.c and ctl_commands.c (what
 * rammctl and the metrics endpoint see).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "control.h"
#include "discover.h"
#include "guest.h"
#include "log.h"
#include "metrics.h"
#include "persist.h"
#include "rammd.h"
#include "record.h"
#include "registry.h"
#include "ctl_commands.h"

#define MIB (1024ULL * 1024ULL)

int64_t rammd_now_us(void)
{
	return g_get_monotonic_time();
}

uint64_t rammd_unit_bytes(const struct rammd *d)
{
	return d->cfg.unit_mib * MIB;
}

/* ---- main -------------------------------------------------------------- */

static gboolean rammd_on_quit(gpointer data)
{
	struct rammd *d = data;

	log_info("signal: shutting down; guests keep their current sizes");
	g_main_loop_quit(d->loop);
	return G_SOURCE_CONTINUE;
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
	ret = control_refresh_group(d->control);
	if (ret)
		log_warn("reload: control socket %s: cannot give it to group %s (%s)",
			 next->control_socket, CONTROL_ADMIN_GROUP, strerror(-ret));
	/* Configured guests whose section is gone are let go, as they are. */
	discover_config_drop_gone(d, next);
	if (next->tick_ms != d->cfg.tick_ms) {
		g_source_remove(d->tick_source);
		d->tick_source = g_timeout_add(next->tick_ms, rammd_on_tick, d);
	}
	d->cfg = *next;
	g_free(next);
	for (guint i = 0; i < d->guests->len; i++) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		guest_settings_apply(&d->cfg, g);
		guest_overrides_changed(g);
	}
	discover_config_add(d);
	log_info("reload: %s applied: %u guests, tick %u ms", d->config_path,
		 d->guests->len, d->cfg.tick_ms);
}

static gboolean rammd_on_hup(gpointer data)
{
	rammd_reload(data);
	return G_SOURCE_CONTINUE;
}

/*
 * Each guest holds two sockets (QMP and agent). systemd starts services
 * with a soft limit of 1024 open files, which would cap rammd near 500
 * guests; it uses poll(), not select(), so it may take the hard limit.
 */
static void rammd_raise_fd_limit(void)
{
	const rlim_t want = 2 * RAMMD_MAX_GUESTS + 256;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		log_warn("open files limited to %llu: fewer than %d guests can be managed (raise LimitNOFILE to %llu)",
			 (unsigned long long)rl.rlim_cur, RAMMD_MAX_GUESTS,
			 (unsigned long long)want);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rammd [-c FILE] [-v] [--record FILE]\n"
		"       rammd --check-config FILE\n"
		"  -c, --config FILE    configuration (default /etc/ramm/rammd.conf)\n"
		"      --check-config FILE  validate FILE and exit (0 valid, 1 invalid)\n"
		"      --record FILE    append each tick's planner input and actions\n"
		"                       to FILE (for ramm-sim --replay)\n"
		"  -v, --verbose        debug logging\n"
		"  -h, --help\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "record", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct rammd d = { 0 };
	const char *path = "/etc/ramm/rammd.conf";
	const char *record_path = NULL;
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
		case 'R':
			record_path = optarg;
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
	rammd_raise_fd_limit();
	if (record_path) {
		d.record = record_open(record_path);
		if (!d.record) {
			log_err("record %s: %s", record_path, strerror(errno));
			return 1;
		}
	}
	d.loop = g_main_loop_new(NULL, FALSE);
	registry_init(&d);
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
	persist_load(&d);
	discover_config_add(&d);
	discover_scan_start(&d);
	if (d.cfg.libvirt_uri[0])
		discover_libvirt_start(&d, d.cfg.libvirt_uri);

	g_unix_signal_add(SIGTERM, rammd_on_quit, &d);
	g_unix_signal_add(SIGINT, rammd_on_quit, &d);
	g_unix_signal_add(SIGHUP, rammd_on_hup, &d);
	d.tick_source = g_timeout_add(d.cfg.tick_ms, rammd_on_tick, &d);
	log_info("rammd started: %zu configured guests, scan_dir %s, proxmox_dir %s, tick %u ms, control %s",
		 d.cfg.n_guests, d.cfg.scan_dir[0] ? d.cfg.scan_dir : "(none)",
		 d.cfg.proxmox_dir[0] ? d.cfg.proxmox_dir : "(none)",
		 d.cfg.tick_ms, d.cfg.control_socket);

	g_main_loop_run(d.loop);
	persist_flush(&d);

	registry_free(&d);
	discover_libvirt_stop();
	persist_free(&d);
	record_close(d.record);
	control_free(d.control);
	metrics_free(d.metrics);
	g_main_loop_unref(d.loop);
	return 0;
}
