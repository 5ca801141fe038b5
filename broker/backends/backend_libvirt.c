/* SPDX-License-Identifier: MIT */
/*
 * The libvirt backend: drives guests' virtio-mem devices through libvirtd
 * with the libvirt C API, on rammd's GLib main loop. Which domains are
 * guests, and when they come and go, is discovery's
 * (daemon/discover_libvirt.c), which also owns the connection.
 *
 *   base memory   <memory> less the device's <size>
 *   the device    <target> <block>, <size> (max), <requested>, <current>
 *   resize        virDomainUpdateDeviceFlags(AFFECT_LIVE) with the device's
 *                 live XML and a new <requested>
 *   completion    VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE
 *   refresh       the live XML read again
 *   the VM        virDomainGetUUIDString() at each bind, before the
 *                 device is reported: a domain defined again under the
 *                 same name is another VM
 *
 * libvirt's calls are synchronous, and one can wait 30 s for a domain's
 * job lock (or for ever on a libvirtd that hangs), so the device reads and
 * the resizes run on a worker thread (lv_job); the loop never waits for
 * libvirtd. A job carries its own reference to the domain and copies of
 * what it needs, the thread writes only the job's results, and the result
 * comes back to the loop through an idle source, where it is applied
 * through the guest_backend_*() callbacks as before: nothing is shared, so
 * nothing is locked. At most one call per guest is in flight; a refresh
 * asked for meanwhile is skipped, and a resize waits for the call in
 * flight (the latest one asked for wins). Calls run one at a time, in the
 * order asked, on one thread: a libvirtd that hangs holds back every
 * guest's calls, never the loop. The thread is never joined: at exit it
 * may be waiting on libvirtd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "backend.h"
#include "backend_libvirt.h"
#include "guest.h"
#include "hugepool.h"
#include "libvirt_xml.h"
#include "log.h"
#include "rammd.h"
#include "registry.h"
#include "vm_uuid.h"

struct lv_job;

struct lv_guest {
	struct guest *g;               /* owner */
	virDomainPtr dom;              /* on the current connection, or NULL */
	char alias[LV_XML_MAX_ALIAS];  /* virtio-mem alias, "" until read */
	int paused;                    /* not driven until bound running */
	int last_error;                /* last read failure logged */
	unsigned int gen;              /* bumped whenever the domain is
					* bound, paused, dropped or lost: a
					* job begun before is stale */
	unsigned int size_events;      /* size-change events seen so far */
	struct lv_job *job;            /* the call in flight, or NULL */
	int resize_waiting;            /* a resize waits for @job */
	uint64_t resize_bytes;         /* ... to this many vmem bytes */
};

enum lv_call {
	LV_CALL_READ,                  /* the live XML, for a refresh */
	LV_CALL_RESIZE,                /* virDomainUpdateDeviceFlags */
};

/*
 * One libvirt call for one guest. Made on the loop, run on the worker
 * thread, applied and freed on the loop. The thread touches only the
 * fields marked (thread).
 */
struct lv_job {
	struct lv_guest *lg;           /* loop only: NULL once the guest is
					* detached (the result is dropped) */
	unsigned int gen;              /* @lg's gen when the call was asked */
	unsigned int size_events;      /* @lg's size_events then */
	enum lv_call call;             /* (thread) */
	virDomainPtr dom;              /* (thread) referenced; freed on the loop */
	char alias[LV_XML_MAX_ALIAS];  /* (thread) RESIZE: the device */
	uint64_t vmem_bytes;           /* (thread) RESIZE: the size asked */
	int ret;                       /* (thread) result: 0 or -errno */
	struct lv_domain_info info;    /* (thread) READ: the domain, if 0 */
	char error[256];               /* (thread) libvirt's words if it failed */
};

static struct {
	virConnectPtr conn;            /* not owned; NULL while disconnected */
	int closed;                    /* the connection died, not closed yet */
	int cb_size;                   /* size-change callback id, -1 if none */
	GPtrArray *guests;             /* struct lv_guest *, not owned */
	GThreadPool *calls;            /* the worker thread (one), made on
					* first use and kept */
} lv = { .cb_size = -1 };

const char *backend_libvirt_error(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

static void lv_guest_drop_domain(struct lv_guest *lg)
{
	if (lg->dom)
		virDomainFree(lg->dom);
	lg->dom = NULL;
	lg->alias[0] = '\0';
	lg->gen++;
}

int backend_libvirt_read_domain(virDomainPtr dom, struct lv_domain_info *info)
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
		.vfio = info->vfio,
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

/*
 * Tell the daemon which VM @dom is, before its device is reported. On the
 * loop: unlike the calls the worker thread makes, virDomainGetUUIDString()
 * asks libvirtd nothing - the client library formats the UUID the
 * virDomainPtr was made with (as virDomainGetName() returns its name) - so
 * it cannot wait on a hung libvirtd. Checked anyway: a failure or a
 * non-canonical answer leaves the account with the VM it belonged to.
 */
static void lv_guest_identify(struct lv_guest *lg, virDomainPtr dom)
{
	char raw[VIR_UUID_STRING_BUFLEN], uuid[VM_UUID_BUFLEN];
	int r;

	if (virDomainGetUUIDString(dom, raw) < 0) {
		log_warn("guest %s: no domain UUID: %s; its account stays with the VM it belonged to",
			 lg->g->cfg.name, backend_libvirt_error());
		return;
	}
	r = vm_uuid_parse(raw, strnlen(raw, sizeof(raw)), uuid);
	if (r || vm_uuid_is_nil(uuid)) {
		log_warn("guest %s: domain UUID %s; its account stays with the VM it belonged to",
			 lg->g->cfg.name, r ? "not in canonical form" : "is nil");
		return;
	}
	guest_backend_identity(lg->g, uuid);
}

void backend_libvirt_bind(struct guest *g, virDomainPtr dom,
			  const struct lv_domain_info *info)
{
	struct lv_guest *lg = g->backend_priv;

	if (lg->dom != dom) {
		lv_guest_drop_domain(lg);
		virDomainRef(dom);
		lg->dom = dom;
	}
	lv_guest_identify(lg, dom);
	lg->paused = !info;
	lg->gen++;
	if (!info) {
		guest_backend_lost(g);
		return;
	}
	lv_guest_report(lg, info);
}

void backend_libvirt_pause(struct guest *g)
{
	struct lv_guest *lg = g->backend_priv;

	lg->paused = 1;
	lg->gen++;
	guest_backend_lost(g);
}

static void lv_on_size_change(virConnectPtr conn, virDomainPtr dom,
			      const char *alias, unsigned long long size_kib,
			      void *opaque)
{
	struct guest *g;
	struct lv_guest *lg;
	const char *name = virDomainGetName(dom);

	(void)conn;
	if (!name)
		return;
	g = registry_find(opaque, name);
	if (!g || g->backend != &backend_libvirt_ops)
		return;
	lg = g->backend_priv;
	if (!alias || strcmp(alias, lg->alias) || size_kib > UINT64_MAX / 1024)
		return;
	lg->size_events++;
	guest_backend_size(g, (uint64_t)size_kib * 1024);
}

int backend_libvirt_connected(struct rammd *d, virConnectPtr conn)
{
	/* Events name the domain; its guest is found by name in @d. */
	lv.cb_size = virConnectDomainEventRegisterAny(conn, NULL,
			VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE,
			VIR_DOMAIN_EVENT_CALLBACK(lv_on_size_change), d, NULL);
	if (lv.cb_size < 0)
		return -ENOTCONN;
	lv.conn = conn;
	lv.closed = 0;
	return 0;
}

unsigned int backend_libvirt_conn_lost(void)
{
	lv.closed = 1;
	for (guint i = 0; lv.guests && i < lv.guests->len; i++) {
		struct lv_guest *lg = g_ptr_array_index(lv.guests, i);

		lg->alias[0] = '\0';
		lg->gen++;
		guest_backend_lost(lg->g);
	}
	return lv.guests ? lv.guests->len : 0;
}

void backend_libvirt_disconnected(void)
{
	if (!lv.conn)
		return;
	for (guint i = 0; lv.guests && i < lv.guests->len; i++)
		lv_guest_drop_domain(g_ptr_array_index(lv.guests, i));
	if (lv.cb_size >= 0)
		virConnectDomainEventDeregisterAny(lv.conn, lv.cb_size);
	lv.cb_size = -1;
	lv.conn = NULL;
	lv.closed = 0;
}

/* ---- calls on the worker thread ----------------------------------------- */

static void lv_job_error(struct lv_job *job)
{
	snprintf(job->error, sizeof(job->error), "%s", backend_libvirt_error());
}

/* The resize: the device's current live element, so that libvirt finds it
 * and sees nothing changed but <requested>. */
static int lv_job_resize(struct lv_job *job)
{
	char *xml = virDomainGetXMLDesc(job->dom, 0), *dev_xml = NULL;
	size_t len;
	int ret;

	if (!xml) {
		lv_job_error(job);
		return -ENOTCONN;
	}
	len = strnlen(xml, LV_XML_MAX + 1);
	ret = len > LV_XML_MAX ? -EINVAL
			       : lv_xml_resize_device(xml, len, job->alias,
						       job->vmem_bytes, &dev_xml);
	free(xml);
	if (ret)
		return ret;
	if (virDomainUpdateDeviceFlags(job->dom, dev_xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		lv_job_error(job);
		ret = -EIO;
	}
	free(dev_xml);
	return ret;
}

static gboolean lv_job_done(gpointer data);

/* The worker thread: one job, then its result to the loop. */
static void lv_job_run(gpointer data, gpointer unused)
{
	struct lv_job *job = data;

	(void)unused;
	if (job->call == LV_CALL_READ) {
		job->ret = backend_libvirt_read_domain(job->dom, &job->info);
		if (job->ret == -ENOTCONN)
			lv_job_error(job);
	} else {
		job->ret = lv_job_resize(job);
	}
	/* Default priority: a busy loop must not starve the result. */
	g_idle_add_full(G_PRIORITY_DEFAULT, lv_job_done, job, NULL);
}

/* ---- calls, on the loop -------------------------------------------------- */

/*
 * Start @call for @lg (driven: connected, domain bound, not paused, no
 * call in flight). Returns 0, or -ENOMEM if the worker thread cannot be
 * had (then nothing was started).
 */
static int lv_call_start(struct lv_guest *lg, enum lv_call call,
			 uint64_t vmem_bytes)
{
	struct lv_job *job;

	if (!lv.calls) {
		lv.calls = g_thread_pool_new(lv_job_run, NULL, 1, FALSE, NULL);
		if (!lv.calls)
			return -ENOMEM;
	}
	job = g_new0(struct lv_job, 1);
	job->lg = lg;
	job->gen = lg->gen;
	job->size_events = lg->size_events;
	job->call = call;
	virDomainRef(lg->dom);
	job->dom = lg->dom;
	snprintf(job->alias, sizeof(job->alias), "%s", lg->alias);
	job->vmem_bytes = vmem_bytes;
	if (!g_thread_pool_push(lv.calls, job, NULL)) {
		virDomainFree(job->dom);
		g_free(job);
		return -ENOMEM;
	}
	lg->job = job;
	return 0;
}

/* Is @lg driven now: connected, bound to a running domain? */
static int lv_guest_driven(const struct lv_guest *lg)
{
	return lv.conn && !lv.closed && lg->dom && !lg->paused;
}

static void lv_apply_read(struct lv_guest *lg, struct lv_job *job)
{
	struct guest *g = lg->g;
	int ret = job->ret;

	if (!ret && strcmp(job->info.agent_path, g->cfg.agent_path))
		ret = -ENODEV;
	if (ret) {
		if (ret != lg->last_error)
			log_warn("guest %s: cannot read the domain: %s; not driven until it can",
				 g->cfg.name,
				 ret == -ENOTCONN ? job->error :
				 ret == -ENODEV ? "device or agent channel gone or changed"
						: "malformed or out-of-range live XML");
		lg->last_error = ret;
		guest_backend_lost(g);
		return;
	}
	lv_guest_report(lg, &job->info);
}

static void lv_apply_resize(struct lv_guest *lg, struct lv_job *job)
{
	if (!job->ret) {
		/* The size-change events follow it from now on. */
		guest_backend_resize_sent(lg->g, job->vmem_bytes);
		return;
	}
	guest_backend_resize_failed(lg->g, job->vmem_bytes,
		job->ret == -EIO ? job->error :
		job->ret == -ENOTCONN ? job->error :
		job->ret == -EINVAL ? "malformed or out-of-range live XML"
				    : "the device is gone from the live XML");
}

/*
 * A call's result, back on the loop. A read is applied unless the guest is
 * gone, its domain changed meanwhile (bound again, paused, lost), or a
 * size-change event came in meanwhile: the read and the event come back
 * by different ways (the worker, the event loop), so the read may be the
 * older of the two, and would set the size back. A resize's outcome is
 * the request's, whatever happened since (guest_backend_resize_failed()
 * ignores a superseded one). Then a resize that waited for the call is
 * started.
 */
static gboolean lv_job_done(gpointer data)
{
	struct lv_job *job = data;
	struct lv_guest *lg = job->lg;

	/* lg->job stays @job while the callbacks run, so that a detach
	 * from inside them clears job->lg. */
	if (lg && job->call == LV_CALL_RESIZE)
		lv_apply_resize(lg, job);
	else if (lg && job->gen == lg->gen && job->size_events == lg->size_events &&
		 lv_guest_driven(lg))
		lv_apply_read(lg, job);
	lg = job->lg;
	if (lg)
		lg->job = NULL;
	if (lg && lg->resize_waiting) {
		uint64_t bytes = lg->resize_bytes;

		lg->resize_waiting = 0;
		if (!lv_guest_driven(lg) || !lg->alias[0] ||
		    lv_call_start(lg, LV_CALL_RESIZE, bytes))
			guest_backend_resize_failed(lg->g, bytes,
						    "libvirt connection lost");
	}
	virDomainFree(job->dom);
	g_free(job);
	return G_SOURCE_REMOVE;
}

/* ---- backend_ops ------------------------------------------------------- */

static int lv_backend_attach(struct guest *g)
{
	struct lv_guest *lg = g_try_new0(struct lv_guest, 1);

	if (!lg)
		return -ENOMEM;
	if (!lv.guests)
		lv.guests = g_ptr_array_new();
	lg->g = g;
	g->backend_priv = lg;
	g_ptr_array_add(lv.guests, lg);
	/* The device is reported by backend_libvirt_bind(), from discovery,
	 * which added us. */
	return 0;
}

static int lv_backend_set_requested_size(struct guest *g, uint64_t vmem_bytes)
{
	struct lv_guest *lg = g->backend_priv;

	if (!lv_guest_driven(lg) || !lg->alias[0])
		return -ENOTCONN;
	if (lg->job) {
		/* After the call in flight; one waiting before is superseded
		 * (guest.c follows only its latest request). */
		lg->resize_waiting = 1;
		lg->resize_bytes = vmem_bytes;
		return 0;
	}
	return lv_call_start(lg, LV_CALL_RESIZE, vmem_bytes);
}

static void lv_backend_refresh(struct guest *g)
{
	struct lv_guest *lg = g->backend_priv;

	/* With a call in flight, its answer or the next refresh will do. */
	if (!lv_guest_driven(lg) || lg->job)
		return;
	if (lv_call_start(lg, LV_CALL_READ, 0))
		log_debug("guest %s: no libvirt worker thread; refresh skipped",
			  g->cfg.name);
}

static void lv_backend_detach(struct guest *g)
{
	struct lv_guest *lg = g->backend_priv;

	if (!lg)
		return;
	/* Its call in flight finishes on the thread; the result is dropped. */
	if (lg->job)
		lg->job->lg = NULL;
	lv_guest_drop_domain(lg);
	g_ptr_array_remove(lv.guests, lg);
	if (!lv.guests->len) {
		g_ptr_array_free(lv.guests, TRUE);
		lv.guests = NULL;
	}
	g_free(lg);
	g->backend_priv = NULL;
}

const struct backend_ops backend_libvirt_ops = {
	.name = "libvirt",
	.attach = lv_backend_attach,
	.set_requested_size = lv_backend_set_requested_size,
	.resize_sent_later = 1, /* on the worker thread */
	.refresh = lv_backend_refresh,
	.detach = lv_backend_detach,
};
