/* SPDX-License-Identifier: MIT */
/*
 * The libvirt backend: finds and drives guests through libvirtd with the
 * libvirt C API, on rammd's GLib main loop (libvirt-glib's event loop
 * implementation, so libvirt's sockets and timers share that one loop).
 *
 *   discovery     running domains with a <memory model='virtio-mem'> device
 *                 and a unix <channel> to the virtio port org.ramm.agent.0;
 *                 the agent socket is that channel's <source path>
 *   base memory   <memory> less the device's <size>
 *   the device    <target> <block>, <size> (max), <requested>, <current>
 *   resize        virDomainUpdateDeviceFlags(AFFECT_LIVE) with the device's
 *                 live XML and a new <requested>
 *   completion    VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE
 *
 * Lifecycle (VIR_DOMAIN_EVENT_ID_LIFECYCLE):
 *   started            the domain is examined and, if it qualifies, added;
 *                      an incoming migration (started/migrated) waits for
 *                      its resumed/migrated event, when the domain runs here
 *   suspended, pmsuspended, crashed
 *                      the device is not driven (guest_backend_lost()); the
 *                      guest keeps its memory, account and place
 *   resumed            the device is read again and driven again
 *   stopped (any reason: shutdown, destroyed, crashed, migrated away,
 *                      saved, failed)
 *                      the guest is removed; its record stays in the state
 *                      file for when it comes back
 *
 * When libvirtd goes away (the close callback, or keepalive), every
 * libvirt guest is marked lost but kept, and the connection is re-opened
 * from a GLib timer with exponential backoff. After reconnecting, every
 * running domain is examined again: known guests re-attach, new ones are
 * added, guests whose domain stopped meanwhile are removed.
 *
 * One connection serves every libvirt guest; libvirt calls are synchronous
 * and made from the main loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libvirt-glib/libvirt-glib.h>

#include "backend.h"
#include "hugepool.h"
#include "guest.h"
#include "libvirt_xml.h"
#include "log.h"
#include "rammd.h"

#define LV_BACKOFF_MIN_MS 500
#define LV_BACKOFF_MAX_MS 30000
#define LV_KEEPALIVE_INTERVAL_S 5
#define LV_KEEPALIVE_COUNT 3

struct lv_guest {
	struct guest *g;               /* owner */
	virDomainPtr dom;              /* on the current connection, or NULL */
	char alias[LV_XML_MAX_ALIAS];  /* virtio-mem alias, "" until read */
	int seen;                      /* discovery bookkeeping */
	int paused;                    /* not driven until resumed */
	int last_error;                /* last read failure logged */
};

static struct {
	struct rammd *d;
	char uri[CONFIG_MAX_URI + 1];
	virConnectPtr conn;            /* NULL while disconnected */
	int cb_lifecycle, cb_size;     /* event callback ids, -1 if none */
	int closed;                    /* the close callback ran */
	guint retry;                   /* reconnect timer */
	guint teardown;                /* idle source closing a dead conn */
	unsigned int backoff_ms;
	int logged_down;               /* "cannot connect" logged once */
	GPtrArray *guests;             /* struct lv_guest *, not owned */
	int event_registered;
} lv = { .cb_lifecycle = -1, .cb_size = -1 };

static void lv_schedule_reconnect(void);
static void lv_on_close(virConnectPtr conn, int reason, void *opaque);

static const char *lv_error(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

/* libvirt's own default prints every error on stderr; we log ours. */
static void lv_quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

static struct lv_guest *lv_guest_by_name(const char *name)
{
	if (!lv.guests || !name)
		return NULL;
	for (guint i = 0; i < lv.guests->len; i++) {
		struct lv_guest *lg = g_ptr_array_index(lv.guests, i);

		if (!strcmp(lg->g->cfg.name, name))
			return lg;
	}
	return NULL;
}

static void lv_guest_drop_domain(struct lv_guest *lg)
{
	if (lg->dom)
		virDomainFree(lg->dom);
	lg->dom = NULL;
	lg->alias[0] = '\0';
}

/*
 * Read the live XML of @dom. Returns 0 with @info filled, or -EINVAL
 * (malformed), -ENODEV (not a ramm guest), -ENOTCONN (libvirt failed).
 */
static int lv_read_domain(virDomainPtr dom, struct lv_domain_info *info)
{
	char *xml = virDomainGetXMLDesc(dom, 0);
	size_t len;
	int ret;

	if (!xml)
		return -ENOTCONN;
	len = strnlen(xml, LV_XML_MAX + 1);
	ret = len > LV_XML_MAX ? -EINVAL : lv_xml_parse_domain(xml, len, info);
	free(xml);
	return ret;
}

/* Report @lg's device from @info; @info must be of @lg's domain. */
static void lv_guest_report(struct lv_guest *lg, const struct lv_domain_info *info)
{
	struct vmem_device dev = {
		.boot_bytes = info->boot_bytes,
		.block_bytes = info->block_bytes,
		.size_bytes = info->size_bytes,
		.requested_bytes = info->requested_bytes,
		.max_bytes = info->max_bytes,
		.page_bytes = info->page_bytes,
		.host_nodes = info->host_nodes,
	};

	/* An empty <hugepages/>: libvirt backs it with the host's default
	 * huge page size (unless qemu.conf lists another hugetlbfs first). */
	if (info->hugepages_default)
		dev.page_bytes = hugepool_default_page_bytes();
	else if (!dev.page_bytes)
		dev.page_bytes = (uint64_t)getpagesize(); /* ordinary memory */
	snprintf(lg->alias, sizeof(lg->alias), "%s", info->alias);
	lg->last_error = 0;
	guest_backend_device(lg->g, &dev);
}

/* Is @dom running here (not paused, not on its way in or out)? */
static int lv_domain_runs(virDomainPtr dom)
{
	int state, reason;

	if (virDomainGetState(dom, &state, &reason, 0) < 0)
		return 0;
	return state == VIR_DOMAIN_RUNNING;
}

/*
 * Examine a domain: add it if it is a ramm guest we do not manage yet, or
 * re-attach the guest we already have for it. @why is logged.
 */
static void lv_examine(virDomainPtr dom, const char *why)
{
	const char *name = virDomainGetName(dom);
	struct lv_domain_info info;
	struct lv_guest *lg;
	struct guest *g;
	int ret, known;

	if (!name)
		return;
	lg = lv_guest_by_name(name);
	known = lg != NULL;
	if (lg)
		lg->seen = 1;
	ret = lv_read_domain(dom, &info);
	if (ret == -ENODEV) {
		log_debug("libvirt: domain %s has no virtio-mem device or no %s channel; not a ramm guest",
			  name, LV_AGENT_PORT);
		return;
	}
	if (ret) {
		log_warn("libvirt: domain %s: %s; skipped", name,
			 ret == -EINVAL ? "malformed or out-of-range live XML"
					: lv_error());
		return;
	}
	if (strcmp(info.name, name)) {
		log_warn("libvirt: domain %s: XML names it %s; skipped", name, info.name);
		return;
	}
	if (!lg) {
		g = rammd_find_guest(lv.d, name);
		if (g) {
			log_warn("libvirt: domain %s: a guest of that name is already managed by %s; skipped",
				 name, g->backend->name);
			return;
		}
		g = rammd_add_libvirt_guest(lv.d, name, info.agent_path);
		if (!g)
			return;
		lg = g->backend_priv;
		lg->seen = 1;
		log_info("libvirt: domain %s added (%s)", name, why);
	} else if (strcmp(lg->g->cfg.agent_path, info.agent_path)) {
		/* Started again with another channel path: start afresh, the
		 * record survives in the state file. */
		rammd_remove_guest(lv.d, lg->g, "agent channel moved");
		lv_examine(dom, why);
		return;
	}
	if (lg->dom != dom) {
		lv_guest_drop_domain(lg);
		virDomainRef(dom);
		lg->dom = dom;
	}
	lg->paused = !lv_domain_runs(dom);
	if (lg->paused) {
		log_info("guest %s: domain not running; not driven until it resumes",
			 name);
		guest_backend_lost(lg->g);
		return;
	}
	if (known && !lg->g->device_ready)
		log_info("guest %s: device driven again (%s)", name, why);
	lv_guest_report(lg, &info);
}

/* ---- events ---------------------------------------------------------- */

static int lv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			   int detail, void *opaque)
{
	struct lv_guest *lg = lv_guest_by_name(virDomainGetName(dom));

	(void)conn;
	(void)opaque;
	switch (event) {
	case VIR_DOMAIN_EVENT_STARTED:
		/* An incoming migration runs here only once it resumes. */
		if (detail != VIR_DOMAIN_EVENT_STARTED_MIGRATED)
			lv_examine(dom, "started");
		break;
	case VIR_DOMAIN_EVENT_RESUMED:
		/* lv_examine() logs the guest being driven again. */
		lv_examine(dom, detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED
					? "migrated in" : "resumed");
		break;
	case VIR_DOMAIN_EVENT_SUSPENDED:
	case VIR_DOMAIN_EVENT_PMSUSPENDED:
	case VIR_DOMAIN_EVENT_CRASHED:
		if (!lg)
			break;
		log_info("guest %s: domain %s (detail %d); not driven, keeps its memory",
			 lg->g->cfg.name,
			 event == VIR_DOMAIN_EVENT_CRASHED ? "crashed" :
			 event == VIR_DOMAIN_EVENT_SUSPENDED ? "paused" : "pm-suspended",
			 detail);
		lg->paused = 1;
		guest_backend_lost(lg->g);
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		if (!lg)
			break;
		guest_backend_lost(lg->g);
		rammd_remove_guest(lv.d, lg->g,
				   detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED ? "domain migrated away" :
				   detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ? "domain crashed" :
				   detail == VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN ? "domain shut down" :
				   detail == VIR_DOMAIN_EVENT_STOPPED_DESTROYED ? "domain destroyed" :
				   detail == VIR_DOMAIN_EVENT_STOPPED_SAVED ? "domain saved" :
				   "domain stopped");
		break;
	default:
		break;
	}
	return 0;
}

static void lv_on_size_change(virConnectPtr conn, virDomainPtr dom,
			      const char *alias, unsigned long long size_kib,
			      void *opaque)
{
	struct lv_guest *lg = lv_guest_by_name(virDomainGetName(dom));

	(void)conn;
	(void)opaque;
	if (!lg || !alias || strcmp(alias, lg->alias) ||
	    size_kib > UINT64_MAX / 1024)
		return;
	guest_backend_size(lg->g, (uint64_t)size_kib * 1024);
}

/* ---- the connection ---------------------------------------------------- */

static void lv_disconnect(void)
{
	if (!lv.conn)
		return;
	for (guint i = 0; lv.guests && i < lv.guests->len; i++)
		lv_guest_drop_domain(g_ptr_array_index(lv.guests, i));
	if (lv.cb_lifecycle >= 0)
		virConnectDomainEventDeregisterAny(lv.conn, lv.cb_lifecycle);
	if (lv.cb_size >= 0)
		virConnectDomainEventDeregisterAny(lv.conn, lv.cb_size);
	lv.cb_lifecycle = lv.cb_size = -1;
	virConnectUnregisterCloseCallback(lv.conn, lv_on_close);
	virConnectClose(lv.conn);
	lv.conn = NULL;
}

static gboolean lv_on_teardown(gpointer data)
{
	(void)data;
	lv.teardown = 0;
	lv_disconnect();
	lv_schedule_reconnect();
	return G_SOURCE_REMOVE;
}

/*
 * libvirtd went away. The connection may not be closed from inside this
 * callback: that happens from an idle source, which then starts the
 * reconnect timer. Guests stay, marked lost.
 */
static void lv_on_close(virConnectPtr conn, int reason, void *opaque)
{
	(void)conn;
	(void)opaque;
	if (lv.closed)
		return;
	lv.closed = 1;
	log_warn("libvirt: connection to %s lost (%s); %u guests kept, reconnecting",
		 lv.uri,
		 reason == VIR_CONNECT_CLOSE_REASON_EOF ? "libvirtd closed it" :
		 reason == VIR_CONNECT_CLOSE_REASON_KEEPALIVE ? "keepalive timeout" :
		 reason == VIR_CONNECT_CLOSE_REASON_ERROR ? "socket error" : "client closed",
		 lv.guests ? lv.guests->len : 0);
	for (guint i = 0; lv.guests && i < lv.guests->len; i++) {
		struct lv_guest *lg = g_ptr_array_index(lv.guests, i);

		lg->alias[0] = '\0';
		guest_backend_lost(lg->g);
	}
	if (!lv.teardown)
		lv.teardown = g_idle_add(lv_on_teardown, NULL);
}

/* Examine every running domain; drop guests whose domain is gone. */
static void lv_discover(void)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(lv.conn, &doms,
					 VIR_CONNECT_LIST_DOMAINS_ACTIVE);

	if (n < 0) {
		log_warn("libvirt: cannot list domains: %s", lv_error());
		return;
	}
	for (guint i = 0; i < lv.guests->len; i++)
		((struct lv_guest *)g_ptr_array_index(lv.guests, i))->seen = 0;
	for (int i = 0; i < n; i++) {
		lv_examine(doms[i], "running");
		virDomainFree(doms[i]);
	}
	free(doms);
	for (guint i = lv.guests->len; i-- > 0;) {
		struct lv_guest *lg = g_ptr_array_index(lv.guests, i);

		if (!lg->seen)
			rammd_remove_guest(lv.d, lg->g,
					   "domain no longer running");
	}
}

/* Open the connection, hook up events and discover. Returns 0 or -ENOTCONN. */
static int lv_connect(void)
{
	virConnectPtr conn = virConnectOpen(lv.uri);

	if (!conn)
		return -ENOTCONN;
	lv.conn = conn;
	lv.closed = 0;
	if (virConnectRegisterCloseCallback(conn, lv_on_close, NULL, NULL) < 0 ||
	    (lv.cb_lifecycle = virConnectDomainEventRegisterAny(conn, NULL,
				VIR_DOMAIN_EVENT_ID_LIFECYCLE,
				VIR_DOMAIN_EVENT_CALLBACK(lv_on_lifecycle),
				NULL, NULL)) < 0 ||
	    (lv.cb_size = virConnectDomainEventRegisterAny(conn, NULL,
				VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE,
				VIR_DOMAIN_EVENT_CALLBACK(lv_on_size_change),
				NULL, NULL)) < 0) {
		log_warn("libvirt: %s: cannot register for events: %s", lv.uri,
			 lv_error());
		lv_disconnect();
		return -ENOTCONN;
	}
	if (virConnectSetKeepAlive(conn, LV_KEEPALIVE_INTERVAL_S,
				   LV_KEEPALIVE_COUNT) < 0)
		log_warn("libvirt: %s: no keepalive: %s", lv.uri, lv_error());
	log_info("libvirt: connected to %s", lv.uri);
	lv.logged_down = 0;
	lv.backoff_ms = LV_BACKOFF_MIN_MS;
	lv_discover();
	return 0;
}

static gboolean lv_on_retry(gpointer data)
{
	(void)data;
	lv.retry = 0;
	if (lv_connect() == 0)
		return G_SOURCE_REMOVE;
	if (!lv.logged_down)
		log_warn("libvirt: cannot connect to %s: %s; retrying with backoff up to %d s",
			 lv.uri, lv_error(), LV_BACKOFF_MAX_MS / 1000);
	lv.logged_down = 1;
	lv.backoff_ms = lv.backoff_ms * 2 > LV_BACKOFF_MAX_MS
				? LV_BACKOFF_MAX_MS : lv.backoff_ms * 2;
	lv_schedule_reconnect();
	return G_SOURCE_REMOVE;
}

static void lv_schedule_reconnect(void)
{
	if (!lv.retry && lv.d)
		lv.retry = g_timeout_add(lv.backoff_ms, lv_on_retry, NULL);
}

int backend_libvirt_start(struct rammd *d, const char *uri)
{
	if (lv.d)
		return -EALREADY;
	if (strlen(uri) > CONFIG_MAX_URI)
		return -EINVAL;
	lv.guests = g_ptr_array_new();
	lv.d = d;
	snprintf(lv.uri, sizeof(lv.uri), "%s", uri);
	lv.backoff_ms = LV_BACKOFF_MIN_MS;
	virSetErrorFunc(NULL, lv_quiet);
	if (!lv.event_registered) {
		gvir_event_register();
		lv.event_registered = 1;
	}
	if (lv_connect()) {
		log_warn("libvirt: cannot connect to %s: %s; retrying with backoff up to %d s",
			 uri, lv_error(), LV_BACKOFF_MAX_MS / 1000);
		lv.logged_down = 1;
		lv_schedule_reconnect();
	}
	return 0;
}

void backend_libvirt_stop(void)
{
	if (!lv.d)
		return;
	if (lv.retry)
		g_source_remove(lv.retry);
	if (lv.teardown)
		g_source_remove(lv.teardown);
	lv.retry = lv.teardown = 0;
	lv_disconnect();
	/* Guests were freed by the daemon first; any left are its to free. */
	g_ptr_array_free(lv.guests, TRUE);
	lv.guests = NULL;
	lv.d = NULL;
}

/* ---- backend_ops ------------------------------------------------------- */

static int lv_backend_attach(struct guest *g)
{
	struct lv_guest *lg = g_try_new0(struct lv_guest, 1);

	if (!lg)
		return -ENOMEM;
	if (!lv.guests) {
		g_free(lg);
		return -ENOTCONN;
	}
	lg->g = g;
	g->backend_priv = lg;
	g_ptr_array_add(lv.guests, lg);
	/* The device is reported by lv_examine(), which added us. */
	return 0;
}

static int lv_backend_set_requested_size(struct guest *g, uint64_t vmem_bytes)
{
	struct lv_guest *lg = g->backend_priv;
	char *xml, *dev_xml = NULL;
	size_t len;
	int ret;

	if (!lv.conn || lv.closed || !lg->dom || !lg->alias[0] || lg->paused)
		return -ENOTCONN;
	/* The device's current live element, so that libvirt finds it and
	 * sees nothing changed but <requested>. */
	xml = virDomainGetXMLDesc(lg->dom, 0);
	if (!xml)
		return -ENOTCONN;
	len = strnlen(xml, LV_XML_MAX + 1);
	ret = len > LV_XML_MAX ? -EINVAL
			       : lv_xml_resize_device(xml, len, lg->alias,
						       vmem_bytes, &dev_xml);
	free(xml);
	if (ret)
		return ret;
	if (virDomainUpdateDeviceFlags(lg->dom, dev_xml,
				       VIR_DOMAIN_AFFECT_LIVE) < 0) {
		log_warn("guest %s: libvirt refused the resize: %s", g->cfg.name,
			 lv_error());
		ret = -EIO;
	}
	free(dev_xml);
	return ret;
}

static void lv_backend_refresh(struct guest *g)
{
	struct lv_guest *lg = g->backend_priv;
	struct lv_domain_info info;
	int ret;

	if (!lv.conn || lv.closed || !lg->dom || lg->paused)
		return;
	ret = lv_read_domain(lg->dom, &info);
	if (!ret && strcmp(info.agent_path, g->cfg.agent_path))
		ret = -ENODEV;
	if (ret) {
		if (ret != lg->last_error)
			log_warn("guest %s: cannot read the domain: %s; not driven until it can",
				 g->cfg.name,
				 ret == -ENOTCONN ? lv_error() :
				 ret == -ENODEV ? "device or agent channel gone or changed"
						: "malformed or out-of-range live XML");
		lg->last_error = ret;
		guest_backend_lost(g);
		return;
	}
	lv_guest_report(lg, &info);
}

static void lv_backend_detach(struct guest *g)
{
	struct lv_guest *lg = g->backend_priv;

	if (!lg)
		return;
	lv_guest_drop_domain(lg);
	if (lv.guests)
		g_ptr_array_remove(lv.guests, lg);
	g_free(lg);
	g->backend_priv = NULL;
}

const struct backend_ops backend_libvirt_ops = {
	.name = "libvirt",
	.attach = lv_backend_attach,
	.set_requested_size = lv_backend_set_requested_size,
	.refresh = lv_backend_refresh,
	.detach = lv_backend_detach,
};
