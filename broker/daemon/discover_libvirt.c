/* SPDX-License-Identifier: MIT */
/*
 * Guests found through libvirtd: the running domains that have a
 * <memory model='virtio-mem'> device and a unix <channel> to the virtio
 * port org.ramm.agent.0 (the agent socket is that channel's <source
 * path>). This file owns the one libvirt connection, on rammd's GLib main
 * loop (libvirt-glib's event loop implementation, so libvirt's sockets
 * and timers share that one loop); the libvirt backend
 * (backends/backend_libvirt.c) drives the devices over it.
 *
 * Lifecycle (VIR_DOMAIN_EVENT_ID_LIFECYCLE):
 *   started            the domain is examined and, if it qualifies, added;
 *                      an incoming migration (started/migrated) waits for
 *                      its resumed/migrated event, when the domain runs here
 *   suspended, pmsuspended, crashed
 *                      the device is not driven (backend_libvirt_pause());
 *                      the guest keeps its memory, account and place
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
 * virConnectOpen() runs on a thread of its own (lv_open), its result
 * coming back through an idle source: a libvirtd that hangs still accepts
 * on its socket, and the open would wait for it for ever. The rest of the
 * connection's calls (events, listing and reading domains) run on the
 * loop, right after libvirtd answered the open or sent an event.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libvirt-glib/libvirt-glib.h>

#include "backend.h"
#include "backend_libvirt.h"
#include "discover.h"
#include "guest.h"
#include "libvirt_xml.h"
#include "log.h"
#include "rammd.h"
#include "registry.h"

#define LV_BACKOFF_MIN_MS 500
#define LV_BACKOFF_MAX_MS 30000
#define LV_KEEPALIVE_INTERVAL_S 5
#define LV_KEEPALIVE_COUNT 3

/* A virConnectOpen() on its own thread. The thread writes only @conn
 * and @error; the loop frees it once the result is back. */
struct lv_open {
	char uri[CONFIG_MAX_URI + 1];  /* (thread) */
	virConnectPtr conn;            /* (thread) result, NULL if it failed */
	char error[256];               /* (thread) libvirt's words, then */
	int cancelled;                 /* loop only: stopped meanwhile; the
					* result is closed and dropped */
};

static struct {
	struct rammd *d;               /* NULL until started */
	char uri[CONFIG_MAX_URI + 1];
	virConnectPtr conn;            /* NULL while disconnected */
	int cb_lifecycle;              /* event callback id, -1 if none */
	int closed;                    /* the close callback ran */
	guint retry;                   /* reconnect timer */
	guint teardown;                /* idle source closing a dead conn */
	struct lv_open *opening;       /* the open in flight, or NULL */
	unsigned int backoff_ms;
	int logged_down;               /* "cannot connect" logged once */
	int event_registered;
} lv = { .cb_lifecycle = -1 };

static void lv_schedule_reconnect(void);
static void lv_on_close(virConnectPtr conn, int reason, void *opaque);

/* libvirt's own default prints every error on stderr; we log ours. */
static void lv_quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

/* The libvirt guest named @name, or NULL (none, or not libvirt's). */
static struct guest *lv_guest_by_name(const char *name)
{
	struct guest *g = name ? registry_find(lv.d, name) : NULL;

	return g && g->backend == &backend_libvirt_ops ? g : NULL;
}

/* Is @dom running here (not paused, not on its way in or out)? */
static int lv_domain_runs(virDomainPtr dom)
{
	int state, reason;

	if (virDomainGetState(dom, &state, &reason, 0) < 0)
		return 0;
	return state == VIR_DOMAIN_RUNNING;
}

static struct guest *lv_add(const char *name, const char *agent_path)
{
	struct guest_config gc = { 0 };

	if (strlen(name) >= sizeof(gc.name) ||
	    strlen(agent_path) >= sizeof(gc.agent_path))
		return NULL;
	strcpy(gc.name, name);
	strcpy(gc.agent_path, agent_path);
	return registry_add(lv.d, &gc, DISCOVER_LIBVIRT, &backend_libvirt_ops);
}

/*
 * Examine a domain: add it if it is a ramm guest we do not manage yet, or
 * re-attach the guest we already have for it. @why is logged.
 */
static void lv_examine(virDomainPtr dom, const char *why)
{
	const char *name = virDomainGetName(dom);
	struct lv_domain_info info;
	struct guest *g;
	int ret, known, runs;

	if (!name)
		return;
	g = lv_guest_by_name(name);
	known = g != NULL;
	if (g)
		g->seen = 1;
	ret = backend_libvirt_read_domain(dom, &info);
	if (ret == -ENODEV) {
		log_debug("libvirt: domain %s has no virtio-mem device or no %s channel; not a ramm guest",
			  name, LV_AGENT_PORT);
		return;
	}
	if (ret) {
		log_warn("libvirt: domain %s: %s; skipped", name,
			 ret == -EINVAL ? "malformed or out-of-range live XML"
					: backend_libvirt_error());
		return;
	}
	if (strcmp(info.name, name)) {
		log_warn("libvirt: domain %s: XML names it %s; skipped", name, info.name);
		return;
	}
	if (!g) {
		g = registry_find(lv.d, name);
		if (g) {
			log_warn("libvirt: domain %s: a guest of that name is already managed by %s; skipped",
				 name, g->backend->name);
			return;
		}
		g = lv_add(name, info.agent_path);
		if (!g)
			return;
		g->seen = 1;
		log_info("libvirt: domain %s added (%s)", name, why);
	} else if (strcmp(g->cfg.agent_path, info.agent_path)) {
		/* Started again with another channel path: start afresh, the
		 * record survives in the state file. */
		registry_remove(lv.d, g, "agent channel moved");
		lv_examine(dom, why);
		return;
	}
	runs = lv_domain_runs(dom);
	if (!runs)
		log_info("guest %s: domain not running; not driven until it resumes",
			 name);
	else if (known && !guest_device_ready(g))
		log_info("guest %s: device driven again (%s)", name, why);
	backend_libvirt_bind(g, dom, runs ? &info : NULL);
}

/* ---- events ---------------------------------------------------------- */

static int lv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			   int detail, void *opaque)
{
	struct guest *g = lv_guest_by_name(virDomainGetName(dom));

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
		if (!g)
			break;
		log_info("guest %s: domain %s (detail %d); not driven, keeps its memory",
			 g->cfg.name,
			 event == VIR_DOMAIN_EVENT_CRASHED ? "crashed" :
			 event == VIR_DOMAIN_EVENT_SUSPENDED ? "paused" : "pm-suspended",
			 detail);
		backend_libvirt_pause(g);
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		if (!g)
			break;
		guest_backend_lost(g);
		registry_remove(lv.d, g,
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

/* ---- the connection ---------------------------------------------------- */

static void lv_disconnect(void)
{
	if (!lv.conn)
		return;
	backend_libvirt_disconnected();
	if (lv.cb_lifecycle >= 0)
		virConnectDomainEventDeregisterAny(lv.conn, lv.cb_lifecycle);
	lv.cb_lifecycle = -1;
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

/* A close libvirt reported, on its way to the loop. */
struct lv_closed {
	virConnectPtr conn; /* compared only: it may be gone by then */
	int reason;         /* VIR_CONNECT_CLOSE_REASON_* */
};

/* On the loop: guests stay, marked lost; the connection is closed from
 * another idle source, which then starts the reconnect timer. A close of
 * a connection already torn down is ignored. */
static gboolean lv_on_closed(gpointer data)
{
	struct lv_closed *c = data;
	unsigned int n;

	if (c->conn == lv.conn && !lv.closed) {
		lv.closed = 1;
		n = backend_libvirt_conn_lost();
		log_warn("libvirt: connection to %s lost (%s); %u guests kept, reconnecting",
			 lv.uri,
			 c->reason == VIR_CONNECT_CLOSE_REASON_EOF ? "libvirtd closed it" :
			 c->reason == VIR_CONNECT_CLOSE_REASON_KEEPALIVE ? "keepalive timeout" :
			 c->reason == VIR_CONNECT_CLOSE_REASON_ERROR ? "socket error" :
			 "client closed", n);
		if (!lv.teardown)
			lv.teardown = g_idle_add(lv_on_teardown, NULL);
	}
	g_free(c);
	return G_SOURCE_REMOVE;
}

/*
 * libvirtd went away. libvirt calls this from the thread that found out:
 * the loop, or the libvirt backend's worker thread inside a call (its
 * keepalive ran out, its socket failed). So it only passes the news to
 * the loop; g_idle_add_full() is thread-safe.
 */
static void lv_on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct lv_closed *c = g_new(struct lv_closed, 1);

	(void)opaque;
	c->conn = conn;
	c->reason = reason;
	g_idle_add_full(G_PRIORITY_DEFAULT, lv_on_closed, c, NULL);
}

/* Examine every running domain; drop guests whose domain is gone. */
static void lv_discover(void)
{
	struct rammd *d = lv.d;
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(lv.conn, &doms,
					 VIR_CONNECT_LIST_DOMAINS_ACTIVE);

	if (n < 0) {
		log_warn("libvirt: cannot list domains: %s", backend_libvirt_error());
		return;
	}
	for (guint i = 0; i < d->guests->len; i++)
		((struct guest *)g_ptr_array_index(d->guests, i))->seen = 0;
	for (int i = 0; i < n; i++) {
		lv_examine(doms[i], "running");
		virDomainFree(doms[i]);
	}
	free(doms);
	for (guint i = d->guests->len; i-- > 0;) {
		struct guest *g = g_ptr_array_index(d->guests, i);

		if (g->backend == &backend_libvirt_ops && !g->seen)
			registry_remove(d, g, "domain no longer running");
	}
}

/* Hook up @conn's events and discover. Returns 0 or -ENOTCONN (then
 * @conn was closed). */
static int lv_connected(virConnectPtr conn)
{
	lv.conn = conn;
	lv.closed = 0;
	if (virConnectRegisterCloseCallback(conn, lv_on_close, NULL, NULL) < 0 ||
	    (lv.cb_lifecycle = virConnectDomainEventRegisterAny(conn, NULL,
				VIR_DOMAIN_EVENT_ID_LIFECYCLE,
				VIR_DOMAIN_EVENT_CALLBACK(lv_on_lifecycle),
				NULL, NULL)) < 0 ||
	    backend_libvirt_connected(lv.d, conn) < 0) {
		log_warn("libvirt: %s: cannot register for events: %s", lv.uri,
			 backend_libvirt_error());
		lv_disconnect();
		return -ENOTCONN;
	}
	if (virConnectSetKeepAlive(conn, LV_KEEPALIVE_INTERVAL_S,
				   LV_KEEPALIVE_COUNT) < 0)
		log_warn("libvirt: %s: no keepalive: %s", lv.uri,
			 backend_libvirt_error());
	log_info("libvirt: connected to %s", lv.uri);
	lv.logged_down = 0;
	lv.backoff_ms = LV_BACKOFF_MIN_MS;
	lv_discover();
	return 0;
}

/* The open failed (@why): logged once until a connection works, then
 * retried after the backoff, which doubles. */
static void lv_open_failed(const char *why)
{
	if (!lv.logged_down)
		log_warn("libvirt: cannot connect to %s: %s; retrying with backoff up to %d s",
			 lv.uri, why, LV_BACKOFF_MAX_MS / 1000);
	lv.logged_down = 1;
	lv.backoff_ms = lv.backoff_ms * 2 > LV_BACKOFF_MAX_MS
				? LV_BACKOFF_MAX_MS : lv.backoff_ms * 2;
	lv_schedule_reconnect();
}

static gboolean lv_on_opened(gpointer data)
{
	struct lv_open *o = data;

	if (o->cancelled) {
		if (o->conn)
			virConnectClose(o->conn);
		g_free(o);
		return G_SOURCE_REMOVE;
	}
	lv.opening = NULL;
	if (!o->conn)
		lv_open_failed(o->error);
	else if (lv_connected(o->conn))
		lv_open_failed("cannot register for events");
	g_free(o);
	return G_SOURCE_REMOVE;
}

static gpointer lv_open_thread(gpointer data)
{
	struct lv_open *o = data;

	o->conn = virConnectOpen(o->uri);
	if (!o->conn)
		snprintf(o->error, sizeof(o->error), "%s", backend_libvirt_error());
	g_idle_add_full(G_PRIORITY_DEFAULT, lv_on_opened, o, NULL);
	return NULL;
}

/* Open the connection on a thread of its own; lv_on_opened() goes on. */
static void lv_open(void)
{
	struct lv_open *o;
	GThread *t;

	if (lv.opening)
		return;
	o = g_new0(struct lv_open, 1);
	snprintf(o->uri, sizeof(o->uri), "%s", lv.uri);
	t = g_thread_try_new("ramm-lv-open", lv_open_thread, o, NULL);
	if (!t) {
		g_free(o);
		lv_open_failed("no thread to connect from");
		return;
	}
	g_thread_unref(t); /* never joined: it may wait on libvirtd for ever */
	lv.opening = o;
}

static gboolean lv_on_retry(gpointer data)
{
	(void)data;
	lv.retry = 0;
	lv_open();
	return G_SOURCE_REMOVE;
}

static void lv_schedule_reconnect(void)
{
	if (!lv.retry && lv.d)
		lv.retry = g_timeout_add(lv.backoff_ms, lv_on_retry, NULL);
}

int discover_libvirt_start(struct rammd *d, const char *uri)
{
	if (lv.d)
		return -EALREADY;
	if (strlen(uri) > CONFIG_MAX_URI)
		return -EINVAL;
	lv.d = d;
	snprintf(lv.uri, sizeof(lv.uri), "%s", uri);
	lv.backoff_ms = LV_BACKOFF_MIN_MS;
	virSetErrorFunc(NULL, lv_quiet);
	if (!lv.event_registered) {
		gvir_event_register();
		lv.event_registered = 1;
	}
	lv_open();
	return 0;
}

void discover_libvirt_stop(void)
{
	if (!lv.d)
		return;
	if (lv.retry)
		g_source_remove(lv.retry);
	if (lv.teardown)
		g_source_remove(lv.teardown);
	lv.retry = lv.teardown = 0;
	if (lv.opening)
		lv.opening->cancelled = 1;
	lv.opening = NULL;
	lv_disconnect();
	lv.d = NULL;
}
