/* SPDX-License-Identifier: MIT */
/*
 * The QMP backend: drives a guest's virtio-mem device over a QEMU QMP socket
 * (bare QEMU, or Proxmox's /var/run/qemu-server/VMID.qmp).
 *
 *   base memory   query-memory-size-summary -> base-memory
 *   the device    query-memory-devices -> the first virtio-mem entry with an id
 *   resize        qom-set /machine/peripheral/ID requested-size N
 *   completion    MEMORY_DEVICE_SIZE_CHANGE {id, size}
 *   the VM        query-uuid -> UUID, first on every connection (each
 *                 session on a shared socket): a new QEMU on the socket
 *                 may be another VM under the same name, and its answer
 *                 comes before the device's, so the daemon knows whose
 *                 account it is before it drives the device
 *   its backing   once per connection, for the device's memdev: qom-get
 *                 hugetlb and hugetlbsize (memory-backend-memfd), qom-get
 *                 mem-path (memory-backend-file: a hugetlbfs mount's block
 *                 size is its page size) and query-memdev (host-nodes and
 *                 policy); a property the backend lacks is an error reply,
 *                 which is an answer too; and qom-list of
 *                 /machine/peripheral and /machine/peripheral-anon for a
 *                 VFIO device (qmp_vfio.h), which pins what it plugs
 *
 * Replies are untrusted: every member is type-checked before use, and a
 * guest whose answers do not make sense is not driven. Every command has a
 * reply deadline (QMP_REPLY_TIMEOUT_MS, qmp.h): a monitor that misses it
 * is taken as hung and the connection dropped, which reports the device
 * lost. A qom-set refused, or unanswered when the connection closes, is
 * reported with guest_backend_resize_failed(), so its size is not booked.
 *
 * Two modes, a flag per guest (guest_config.qmp_shared):
 *  - own socket: one connection held open, events followed, reconnected
 *    every second when lost (a hung monitor included).
 *  - shared socket (Proxmox's VMID.qmp, which qemu-server needs too; a QMP
 *    server serves one client at a time): "polite". Every refresh and
 *    resize is a short session - connect, qmp_capabilities, the command(s),
 *    close - bounded by QMP_REPLY_TIMEOUT_MS in all (qmp_set_session()).
 *    No events: completion is seen by the daemon's device polls
 *    (refresh). A session that cannot
 *    connect, is never greeted (another client holds the socket) or times
 *    out reports the device lost: the guest stays frozen at its size until
 *    a later session succeeds.
 *
 * In both modes a socket that refuses connections (nothing listens on the
 * file QEMU left) or no longer exists means QEMU is gone, not hung: that is
 * reported with guest_backend_gone(), and the memory it held goes back to
 * the market. A hung monitor still accepts, so it is only lost.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <glib.h>

#include "backend.h"
#include "guest.h"
#include "hugepool.h"
#include "log.h"
#include "pages.h"
#include "qmp.h"
#include "qmp_vfio.h"
#include "vm_uuid.h"

#define QMP_RETRY_MS 1000
/* A shared socket is queried at most this often: every session makes
 * qemu-server's own clients wait, and the daemon polls a resizing guest's
 * device every 100 ms. */
#define QMP_POLITE_QUERY_MS 1000
/* Longest memdev QOM path taken from a reply ("/objects/ID"). */
#define QMP_MAX_MEMDEV 128
/* The backing probe's questions: four on the memdev, two for VFIO. */
#define QMP_PROBE_REPLIES 6

struct qmp_guest {
	struct guest *g;      /* owner */
	struct qmp *qmp;      /* connection */
	guint retry;          /* reconnect timer, 0 if none */
	char dev_id[64];      /* virtio-mem device id, "" until found */
	uint64_t boot_bytes;  /* base memory, 0 until known */
	int last_error;       /* last device-query failure logged, so a
			       * query repeated every tick logs once */
	int outage;           /* own socket: the loss was logged; cleared
			       * once connected again */
	unsigned int uuid_problem; /* the last query-uuid answer could not
			       * be used, and how (enum qmp_uuid_problem):
			       * logged when it changes */
	unsigned int sets_out; /* qom-sets awaiting their reply */
	uint64_t set_bytes;   /* requested-size of the latest qom-set */

	/* The device's backing, probed once per connection. */
	char memdev[QMP_MAX_MEMDEV]; /* its memdev's QOM path, "" if none */
	int backing_known;    /* page_bytes and host_nodes are answers */
	unsigned int probe_left; /* probe replies still awaited; 0: none */
	int probe_broken;     /* a question was not sent or its answer was
			       * lost with the connection: the probe ends
			       * without a verdict and is run again */
	struct vmem_device pending; /* device state held back for the probe */
	int probe_hugetlb;    /* qom-get hugetlb said true */
	uint64_t probe_hugetlbsize; /* qom-get hugetlbsize, 0 = default */
	char probe_path[256]; /* qom-get mem-path, "" if none */
	int probe_path_bad;   /* it answered with a mem-path we cannot use
			       * (not a string, empty, too long): unknown */
	int probe_vfio;       /* a qom-list listed a VFIO device, or could
			       * not be read (taken as one: the safe side) */
	uint64_t page_bytes;  /* the answer: backing page size, 0 unknown */
	uint64_t host_nodes;  /* the answer: bound host nodes, 0 any */
	int vfio;             /* the answer: it has a VFIO device */

	/* Polite mode (shared socket) only. */
	int polite;           /* 1: connect per session, never hold */
	int session;          /* a session is connecting or open */
	int64_t session_us;   /* the last session began (monotonic) */
	int session_ok;       /* its work is done: the close is ours */
	unsigned int outstanding; /* replies the session still awaits */
	int want_query;       /* re-read the device in the session */
	int set_pending;      /* a qom-set of set_bytes waits for the session */
	int busy;             /* the last session failed (logged once) */
	const char *fail_why; /* why the open session is being closed */
};

static struct qmp_guest *qmp_guest_of(struct guest *g)
{
	return g->backend_priv;
}

static void qmp_polite_reply_done(struct qmp_guest *qg);

/* Send @cmd; in polite mode the session waits for its reply. */
static int qmp_guest_command(struct qmp_guest *qg, const char *cmd,
			     struct json_object *args, qmp_reply_fn fn)
{
	int r = qmp_command(qg->qmp, cmd, args, fn, qg);

	if (!r && qg->polite)
		qg->outstanding++;
	return r;
}

static int json_u64(struct json_object *obj, const char *key, uint64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -EINVAL;
	*out = json_object_get_uint64(v);
	return 0;
}

/* The device's memdev path, if it is one QOM can be asked about. */
static void qmp_guest_parse_memdev(struct qmp_guest *qg, struct json_object *data)
{
	struct json_object *v;
	const char *path;

	qg->memdev[0] = '\0';
	if (!json_object_object_get_ex(data, "memdev", &v) ||
	    !json_object_is_type(v, json_type_string))
		return;
	path = json_object_get_string(v);
	if (strncmp(path, "/objects/", 9) || strlen(path) >= sizeof(qg->memdev))
		return;
	snprintf(qg->memdev, sizeof(qg->memdev), "%s", path);
}

/* ---- the VM's identity ---------------------------------------------------- */

/* Why a query-uuid answer named no VM; 0: it did. */
enum qmp_uuid_problem {
	QMP_UUID_OK,
	QMP_UUID_REFUSED,   /* an error reply */
	QMP_UUID_MALFORMED, /* not {"UUID": string} */
	QMP_UUID_BAD,       /* a string, but no canonical UUID */
	QMP_UUID_NIL,       /* QEMU started without -uuid */
};

/*
 * The answer to query-uuid, {"UUID": "..."}: untrusted, so only a
 * canonical UUID is taken (vm_uuid_parse()), and a string that is not one
 * is never logged or kept. An answer that names no VM leaves the guest's
 * account with the VM it belonged to; it is logged when the problem
 * changes, not on every session of a shared socket.
 */
static void qmp_guest_on_uuid(struct qmp *q, struct json_object *ret,
			      const char *error, void *ctx)
{
	struct qmp_guest *qg = ctx;
	char uuid[VM_UUID_BUFLEN];
	enum qmp_uuid_problem problem = QMP_UUID_OK;
	struct json_object *v;
	size_t len = 0;
	int r = 0;

	(void)q;
	if (!ret && !error)
		goto out; /* lost with the connection: asked again on the next */
	if (!ret) {
		problem = QMP_UUID_REFUSED;
	} else if (!json_object_is_type(ret, json_type_object) ||
		   !json_object_object_get_ex(ret, "UUID", &v) ||
		   !json_object_is_type(v, json_type_string)) {
		problem = QMP_UUID_MALFORMED;
	} else {
		len = (size_t)json_object_get_string_len(v);
		r = vm_uuid_parse(json_object_get_string(v), len, uuid);
		if (r)
			problem = QMP_UUID_BAD;
		else if (vm_uuid_is_nil(uuid))
			problem = QMP_UUID_NIL;
	}
	if (problem != QMP_UUID_OK && (unsigned int)problem != qg->uuid_problem) {
		const char *name = qg->g->cfg.name;

		switch (problem) {
		case QMP_UUID_REFUSED:
			log_warn("guest %s: query-uuid refused: %s; the VM's identity is unknown, its account is kept as it is",
				 name, error);
			break;
		case QMP_UUID_MALFORMED:
			log_warn("guest %s: malformed query-uuid reply (no UUID string); refused: the VM's identity is unknown, its account is kept as it is",
				 name);
			break;
		case QMP_UUID_BAD:
			if (r == -EMSGSIZE)
				log_warn("guest %s: query-uuid reply: a UUID of %zu bytes, not %d; refused: the VM's identity is unknown, its account is kept as it is",
					 name, len, VM_UUID_LEN);
			else
				log_warn("guest %s: query-uuid reply: a UUID not in canonical form; refused: the VM's identity is unknown, its account is kept as it is",
					 name);
			break;
		default:
			log_info("guest %s: QEMU has no -uuid (nil UUID): a later VM of the same name would inherit this one's account",
				 name);
			break;
		}
	}
	qg->uuid_problem = (unsigned int)problem;
	if (problem == QMP_UUID_OK)
		guest_backend_identity(qg->g, uuid);
out:
	if (qg->polite)
		qmp_polite_reply_done(qg);
}

/* ---- the backing probe ------------------------------------------------- */

/* The page size of memory mapped from @path on this host: a hugetlbfs
 * mount's block size, else the base page size; 0 if it cannot be read. */
static uint64_t qmp_path_page_bytes(const char *path)
{
	struct statfs st;

	if (statfs(path, &st))
		return 0;
	if ((unsigned long)st.f_type != HUGETLBFS_MAGIC)
		return (uint64_t)getpagesize();
	return (uint64_t)st.f_bsize;
}

/* All probe replies are in: settle the backing and report the device. */
static void qmp_probe_finish(struct qmp_guest *qg)
{
	uint64_t page;

	if (qg->probe_hugetlb)
		page = qg->probe_hugetlbsize ? qg->probe_hugetlbsize
					     : hugepool_default_page_bytes();
	else if (qg->probe_path_bad)
		page = 0;
	else if (qg->probe_path[0])
		page = qmp_path_page_bytes(qg->probe_path);
	else
		page = (uint64_t)getpagesize(); /* memory-backend-ram */
	if (!pages_valid_size(page))
		page = 0;
	qg->page_bytes = page;
	qg->vfio = qg->probe_vfio;
	qg->backing_known = 1;
	qg->pending.page_bytes = qg->page_bytes;
	qg->pending.host_nodes = qg->host_nodes;
	qg->pending.vfio = qg->vfio;
	guest_backend_device(qg->g, &qg->pending);
}

/* One probe answer is in; @lost: the connection closed under it. Only a
 * probe with every answer reports the device: half the answers could make
 * a hugetlb guest look like an ordinary one. */
static void qmp_probe_reply_done(struct qmp_guest *qg, int lost)
{
	qg->probe_broken |= lost;
	if (qg->probe_left && --qg->probe_left == 0 && !qg->probe_broken)
		qmp_probe_finish(qg);
	if (qg->polite)
		qmp_polite_reply_done(qg);
}

static void qmp_probe_on_hugetlb(struct qmp *q, struct json_object *ret,
				 const char *error, void *ctx)
{
	struct qmp_guest *qg = ctx;

	(void)q;
	(void)error;
	qg->probe_hugetlb = ret && json_object_is_type(ret, json_type_boolean) &&
			    json_object_get_boolean(ret);
	qmp_probe_reply_done(qg, !ret && !error);
}

static void qmp_probe_on_hugetlbsize(struct qmp *q, struct json_object *ret,
				     const char *error, void *ctx)
{
	struct qmp_guest *qg = ctx;

	(void)q;
	(void)error;
	qg->probe_hugetlbsize = 0;
	if (ret && json_object_is_type(ret, json_type_int) &&
	    json_object_get_int64(ret) > 0)
		qg->probe_hugetlbsize = (uint64_t)json_object_get_int64(ret);
	qmp_probe_reply_done(qg, !ret && !error);
}

static void qmp_probe_on_mem_path(struct qmp *q, struct json_object *ret,
				  const char *error, void *ctx)
{
	struct qmp_guest *qg = ctx;

	(void)q;
	(void)error;
	qg->probe_path[0] = '\0';
	qg->probe_path_bad = 0;
	if (ret && json_object_is_type(ret, json_type_string) &&
	    json_object_get_string_len(ret) > 0 &&
	    (size_t)json_object_get_string_len(ret) < sizeof(qg->probe_path))
		snprintf(qg->probe_path, sizeof(qg->probe_path), "%s",
			 json_object_get_string(ret));
	else if (ret)
		qg->probe_path_bad = 1; /* a mem-path we cannot look at */
	qmp_probe_reply_done(qg, !ret && !error);
}

/*
 * Host nodes of the memdev named by the last part of qg->memdev: those of
 * a bind or interleave policy. "preferred" falls back to any node, and so
 * does "default": both are 0.
 */
static uint64_t qmp_parse_host_nodes(const struct qmp_guest *qg,
				     struct json_object *ret)
{
	const char *id = qg->memdev + 9; /* past "/objects/" */
	size_t n;

	if (!ret || !json_object_is_type(ret, json_type_array))
		return 0;
	n = json_object_array_length(ret);
	for (size_t i = 0; i < n && i < 256; i++) {
		struct json_object *md = json_object_array_get_idx(ret, i);
		struct json_object *v, *nodes, *policy;
		uint64_t mask = 0;
		size_t k;

		if (!json_object_object_get_ex(md, "id", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    strcmp(json_object_get_string(v), id))
			continue;
		if (!json_object_object_get_ex(md, "policy", &policy) ||
		    !json_object_is_type(policy, json_type_string) ||
		    (strcmp(json_object_get_string(policy), "bind") &&
		     strcmp(json_object_get_string(policy), "interleave")) ||
		    !json_object_object_get_ex(md, "host-nodes", &nodes) ||
		    !json_object_is_type(nodes, json_type_array))
			return 0;
		k = json_object_array_length(nodes);
		for (size_t j = 0; j < k && j < HUGEPOOL_MAX_NODES; j++) {
			struct json_object *node = json_object_array_get_idx(nodes, j);
			int64_t nid;

			if (!json_object_is_type(node, json_type_int))
				return 0;
			nid = json_object_get_int64(node);
			if (nid < 0 || nid >= HUGEPOOL_MAX_NODES)
				return 0;
			mask |= UINT64_C(1) << nid;
		}
		return mask;
	}
	return 0;
}

static void qmp_probe_on_memdevs(struct qmp *q, struct json_object *ret,
				 const char *error, void *ctx)
{
	struct qmp_guest *qg = ctx;

	(void)q;
	(void)error;
	qg->host_nodes = qmp_parse_host_nodes(qg, ret);
	qmp_probe_reply_done(qg, !ret && !error);
}

/* A qom-list of a peripheral container: an error (no such container)
 * lists no device; a reply that does not parse counts as a VFIO device. */
static void qmp_probe_on_peripherals(struct qmp *q, struct json_object *ret,
				     const char *error, void *ctx)
{
	struct qmp_guest *qg = ctx;
	int r = ret ? qmp_vfio_in_qom_list(ret) : 0;

	(void)q;
	(void)error;
	if (r < 0)
		log_warn("guest %s: malformed qom-list reply; taken as a VFIO device (growth only into memory no other guest may touch)",
			 qg->g->cfg.name);
	if (r)
		qg->probe_vfio = 1;
	qmp_probe_reply_done(qg, !ret && !error);
}

static void qmp_probe_list(struct qmp_guest *qg, const char *path)
{
	struct json_object *args = json_object_new_object();

	json_object_object_add(args, "path", json_object_new_string(path));
	if (qmp_guest_command(qg, "qom-list", args, qmp_probe_on_peripherals) == 0)
		qg->probe_left++;
	else
		qg->probe_broken = 1;
}

static void qmp_probe_get(struct qmp_guest *qg, const char *property,
			  qmp_reply_fn fn)
{
	struct json_object *args = json_object_new_object();

	json_object_object_add(args, "path", json_object_new_string(qg->memdev));
	json_object_object_add(args, "property", json_object_new_string(property));
	if (qmp_guest_command(qg, "qom-get", args, fn) == 0)
		qg->probe_left++;
	else
		qg->probe_broken = 1;
}

/* Ask about the backing of the device reported in @dev; it is reported
 * once the answers are in. Without a memdev the page size is unknown. */
static void qmp_probe_start(struct qmp_guest *qg, const struct vmem_device *dev)
{
	qg->pending = *dev;
	if (qg->probe_left)
		return; /* the answers on their way report it */
	if (!qg->memdev[0]) {
		qg->page_bytes = qg->host_nodes = 0;
		qg->vfio = 0;
		qg->backing_known = 1;
		qg->pending.page_bytes = qg->pending.host_nodes = 0;
		qg->pending.vfio = 0;
		guest_backend_device(qg->g, &qg->pending);
		return;
	}
	qg->probe_broken = 0;
	qg->probe_hugetlb = 0;
	qg->probe_hugetlbsize = 0;
	qg->probe_path[0] = '\0';
	qg->probe_vfio = 0;
	qg->host_nodes = 0;
	qmp_probe_list(qg, "/machine/peripheral");
	qmp_probe_list(qg, "/machine/peripheral-anon");
	qmp_probe_get(qg, "hugetlb", qmp_probe_on_hugetlb);
	qmp_probe_get(qg, "hugetlbsize", qmp_probe_on_hugetlbsize);
	qmp_probe_get(qg, "mem-path", qmp_probe_on_mem_path);
	if (qmp_guest_command(qg, "query-memdev", NULL, qmp_probe_on_memdevs) == 0)
		qg->probe_left++;
	else
		qg->probe_broken = 1;
}

/* Take the first virtio-mem device with an id; QMP can only address those. */
static int qmp_guest_parse_device(struct qmp_guest *qg, struct json_object *ret,
				  struct vmem_device *dev)
{
	size_t n;

	if (!json_object_is_type(ret, json_type_array))
		return -EINVAL;
	n = json_object_array_length(ret);
	for (size_t i = 0; i < n && i < 64; i++) {
		struct json_object *item = json_object_array_get_idx(ret, i);
		struct json_object *type, *data, *id;

		if (!json_object_object_get_ex(item, "type", &type) ||
		    !json_object_is_type(type, json_type_string) ||
		    strcmp(json_object_get_string(type), "virtio-mem") ||
		    !json_object_object_get_ex(item, "data", &data) ||
		    !json_object_object_get_ex(data, "id", &id) ||
		    !json_object_is_type(id, json_type_string) ||
		    (size_t)json_object_get_string_len(id) >= sizeof(qg->dev_id))
			continue;
		if (json_u64(data, "block-size", &dev->block_bytes) ||
		    json_u64(data, "size", &dev->size_bytes) ||
		    json_u64(data, "requested-size", &dev->requested_bytes) ||
		    json_u64(data, "max-size", &dev->max_bytes))
			return -EINVAL;
		if (!dev->block_bytes || dev->size_bytes > dev->max_bytes ||
		    dev->block_bytes & (dev->block_bytes - 1))
			return -EINVAL;
		snprintf(qg->dev_id, sizeof(qg->dev_id), "%s",
			 json_object_get_string(id));
		qmp_guest_parse_memdev(qg, data);
		dev->boot_bytes = qg->boot_bytes;
		return 0;
	}
	return -ENODEV;
}

static void qmp_guest_on_devices(struct qmp *q, struct json_object *ret,
				 const char *error, void *ctx)
{
	struct qmp_guest *qg = ctx;
	struct vmem_device dev = { 0 };
	int r;

	(void)q;
	if (!ret) {
		if (error)
			log_warn("guest %s: query-memory-devices: %s",
				 qg->g->cfg.name, error);
	} else if ((r = qmp_guest_parse_device(qg, ret, &dev))) {
		if (r != qg->last_error)
			log_warn("guest %s: %s", qg->g->cfg.name,
				 r == -ENODEV ? "no virtio-mem device with an id; not managed until one appears"
					      : "malformed query-memory-devices reply; ignored");
		qg->last_error = r;
	} else {
		qg->last_error = 0;
		if (!qg->backing_known) {
			qmp_probe_start(qg, &dev);
		} else {
			dev.page_bytes = qg->page_bytes;
			dev.host_nodes = qg->host_nodes;
			dev.vfio = qg->vfio;
			guest_backend_device(qg->g, &dev);
		}
	}
	if (qg->polite)
		qmp_polite_reply_done(qg);
}

static void qmp_guest_on_summary(struct qmp *q, struct json_object *ret,
				 const char *error, void *ctx)
{
	struct qmp_guest *qg = ctx;

	(void)q;
	if (!ret || json_u64(ret, "base-memory", &qg->boot_bytes) ||
	    !qg->boot_bytes) {
		if (ret || error)
			log_warn("guest %s: query-memory-size-summary: %s",
				 qg->g->cfg.name, error ? error : "malformed reply");
	} else {
		qmp_guest_command(qg, "query-memory-devices", NULL,
				  qmp_guest_on_devices);
	}
	if (qg->polite)
		qmp_polite_reply_done(qg);
}

static void qmp_guest_on_event(struct qmp *q, const char *event,
			       struct json_object *data, void *ctx)
{
	struct qmp_guest *qg = ctx;
	struct json_object *id;
	uint64_t size;

	(void)q;
	if (strcmp(event, "MEMORY_DEVICE_SIZE_CHANGE") || !data)
		return;
	if (!json_object_object_get_ex(data, "id", &id) ||
	    !json_object_is_type(id, json_type_string) ||
	    strcmp(json_object_get_string(id), qg->dev_id) ||
	    json_u64(data, "size", &size))
		return;
	guest_backend_size(qg->g, size);
}

/*
 * The reply to a qom-set requested-size. Only the latest qom-set's counts:
 * an older one was superseded. Refused, or lost with the connection (a hung
 * monitor), QEMU did not take that size: the guest's books go back to the
 * device's.
 */
static void qmp_guest_on_set(struct qmp *q, struct json_object *ret,
			     const char *error, void *ctx)
{
	struct qmp_guest *qg = ctx;

	(void)q;
	if (qg->sets_out && --qg->sets_out == 0 && !ret)
		guest_backend_resize_failed(qg->g, qg->set_bytes,
					    error ? error : "no reply before the QMP connection closed");
	if (qg->polite)
		qmp_polite_reply_done(qg);
}

/* Send qom-set requested-size @bytes. Returns 0 or -errno from qmp_command(). */
static int qmp_guest_send_set(struct qmp_guest *qg, uint64_t bytes)
{
	struct json_object *args = json_object_new_object();
	char path[128];
	int r;

	snprintf(path, sizeof(path), "/machine/peripheral/%s", qg->dev_id);
	json_object_object_add(args, "path", json_object_new_string(path));
	json_object_object_add(args, "property",
			       json_object_new_string("requested-size"));
	json_object_object_add(args, "value", json_object_new_uint64(bytes));
	r = qmp_guest_command(qg, "qom-set", args, qmp_guest_on_set);
	if (!r) {
		qg->sets_out++;
		qg->set_bytes = bytes;
	}
	return r;
}

static gboolean qmp_guest_on_retry(gpointer data);

static void qmp_guest_schedule_retry(struct qmp_guest *qg)
{
	if (!qg->retry)
		qg->retry = g_timeout_add(QMP_RETRY_MS, qmp_guest_on_retry, qg);
}

static void qmp_polite_on_state(struct qmp_guest *qg, int up);

static void qmp_guest_on_state(struct qmp *q, int up, void *ctx)
{
	struct qmp_guest *qg = ctx;

	if (qg->polite) {
		qmp_polite_on_state(qg, up);
		return;
	}
	if (up) {
		log_info("guest %s: QMP connected", qg->g->cfg.name);
		qg->outage = 0;
		qg->last_error = 0;
		/* First: its answer comes before the device's (QMP answers
		 * in order). Should it not go out, the device is driven all
		 * the same, on the account the guest has. */
		qmp_command(q, "query-uuid", NULL, qmp_guest_on_uuid, qg);
		qmp_command(q, "query-memory-size-summary", NULL,
			    qmp_guest_on_summary, qg);
		return;
	}
	/* Logged once per outage: a hung monitor accepts every retry. */
	if (!qg->outage) {
		if (qmp_timed_out(q))
			log_warn("guest %s: QMP monitor %s within %d ms: taken as hung; guest frozen at its size, reconnecting every %d ms",
				 qg->g->cfg.name,
				 qmp_timed_out(q) == QMP_TIMEOUT_GREETING
					? "sent no greeting" : "did not answer",
				 QMP_REPLY_TIMEOUT_MS, QMP_RETRY_MS);
		else
			log_info("guest %s: QMP connection closed; retrying every %d ms",
				 qg->g->cfg.name, QMP_RETRY_MS);
	}
	qg->outage = 1;
	qg->dev_id[0] = '\0';
	/* A new QEMU may come back on the socket: ask about it again. */
	qg->backing_known = 0;
	qg->probe_left = 0;
	guest_backend_lost(qg->g);
	qmp_guest_schedule_retry(qg);
}

/*
 * Connect @qg's socket. A QEMU that is gone, not merely busy or hung, is
 * told apart here: nothing listens on the socket file it left (a hung
 * monitor still accepts), or the file is gone. Returns qmp_connect()'s.
 */
static int qmp_guest_connect(struct qmp_guest *qg)
{
	int r = qmp_connect(qg->qmp);

	if (r == -ECONNREFUSED || r == -ENOENT)
		guest_backend_gone(qg->g, r == -ENOENT ? "its QMP socket is gone"
					: "nothing listens on its QMP socket");
	return r;
}

static gboolean qmp_guest_on_retry(gpointer data)
{
	struct qmp_guest *qg = data;

	if (qmp_guest_connect(qg) == 0) {
		qg->retry = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* ---- polite mode: one short session per refresh or resize --------------- */

/* The session failed (@why): the device is frozen until one succeeds.
 * Logged once per outage, and once when it ends. */
static void qmp_polite_fail(struct qmp_guest *qg, const char *why)
{
	if (!qg->busy)
		log_warn("guest %s: shared QMP socket %s busy or unreachable: %s; guest frozen at its size, retrying every tick",
			 qg->g->cfg.name, qg->g->cfg.qmp_path, why);
	qg->busy = 1;
	qg->set_pending = 0;
	qg->want_query = 0;
	guest_backend_lost(qg->g);
}

/* Send what the session was opened (or kept open) for; close it when
 * nothing is awaited any more. */
static void qmp_polite_send(struct qmp_guest *qg)
{
	if (qg->set_pending && qg->dev_id[0] &&
	    qmp_guest_send_set(qg, qg->set_bytes))
		qg->fail_why = "qom-set could not be sent";
	qg->set_pending = 0;
	if (qg->want_query) {
		qg->want_query = 0;
		/* Each session may find another QEMU than the last (the VM
		 * deleted and its VMID reused in between): who it is first,
		 * answered before the device. */
		qmp_guest_command(qg, "query-uuid", NULL, qmp_guest_on_uuid);
		/* Start over from the summary until it answered once. */
		if (!qg->boot_bytes)
			qmp_guest_command(qg, "query-memory-size-summary", NULL,
					  qmp_guest_on_summary);
		else
			qmp_guest_command(qg, "query-memory-devices", NULL,
					  qmp_guest_on_devices);
	}
	if (!qg->outstanding) {
		qg->session_ok = !qg->fail_why;
		qmp_disconnect(qg->qmp);
	}
}

/* A reply arrived (or the connection closed under it). */
static void qmp_polite_reply_done(struct qmp_guest *qg)
{
	if (qg->outstanding)
		qg->outstanding--;
	if (!qg->outstanding && qmp_is_up(qg->qmp)) {
		qg->session_ok = !qg->fail_why;
		qmp_disconnect(qg->qmp);
	}
}

static void qmp_polite_on_state(struct qmp_guest *qg, int up)
{
	if (up) {
		qmp_polite_send(qg);
		return;
	}
	if (!qg->fail_why && qmp_timed_out(qg->qmp))
		qg->fail_why = qmp_timed_out(qg->qmp) == QMP_TIMEOUT_GREETING
			? "no QMP greeting within " G_STRINGIFY(QMP_REPLY_TIMEOUT_MS)
			  " ms (another client holds the socket)"
			: "no reply within " G_STRINGIFY(QMP_REPLY_TIMEOUT_MS) " ms";
	/* A session that closed before it could send its qom-set. */
	if (qg->set_pending)
		guest_backend_resize_failed(qg->g, qg->set_bytes,
					    qg->fail_why ? qg->fail_why
					    : "QEMU closed the connection");
	qg->session = 0;
	qg->outstanding = 0;
	qg->probe_left = 0; /* unanswered: asked again in the next session */
	if (qg->session_ok) {
		if (qg->busy)
			log_info("guest %s: shared QMP socket %s answers again",
				 qg->g->cfg.name, qg->g->cfg.qmp_path);
		qg->busy = 0;
	} else {
		qmp_polite_fail(qg, qg->fail_why ? qg->fail_why
				 : "QEMU closed the connection");
	}
	qg->session_ok = 0;
	qg->fail_why = NULL;
}

/*
 * Do the queued work (want_query, set_pending): in the open session if
 * there is one, else in a new one. Returns 0, or -errno if the socket
 * cannot be connected (then the failure is reported and the work dropped).
 */
static int qmp_polite_run(struct qmp_guest *qg)
{
	int r;

	if (qmp_is_up(qg->qmp)) {
		qmp_polite_send(qg);
		return 0;
	}
	if (qg->session)
		return 0; /* sent once greeted */
	r = qmp_guest_connect(qg);
	if (r == -ECONNREFUSED || r == -ENOENT) {
		qg->set_pending = 0;
		qg->want_query = 0;
		return r;
	}
	if (r < 0) {
		qmp_polite_fail(qg, r == -EAGAIN
			? "its backlog is full (another client holds the socket)"
			: strerror(-r));
		return r;
	}
	qg->session = 1;
	qg->session_us = g_get_monotonic_time();
	qg->session_ok = 0;
	qg->fail_why = NULL;
	return 0;
}

/* ---- the backend interface -------------------------------------------- */

static int qmp_backend_attach(struct guest *g)
{
	struct qmp_guest *qg = g_try_new0(struct qmp_guest, 1);

	if (!qg)
		return -ENOMEM;
	qg->g = g;
	qg->polite = g->cfg.qmp_shared != 0;
	qg->qmp = qmp_new(g->cfg.qmp_path,
			  qg->polite ? NULL : qmp_guest_on_event,
			  qmp_guest_on_state, qg);
	if (!qg->qmp) {
		g_free(qg);
		return -ENOMEM;
	}
	g->backend_priv = qg;
	if (qg->polite) {
		qmp_set_session(qg->qmp, 1);
		log_info("guest %s: QMP socket %s is shared: one short session per command, never held",
			 g->cfg.name, g->cfg.qmp_path);
		qg->want_query = 1;
		qmp_polite_run(qg);
		return 0;
	}
	if (qmp_guest_connect(qg) < 0)
		qmp_guest_schedule_retry(qg);
	return 0;
}

static int qmp_backend_set_requested_size(struct guest *g, uint64_t vmem_bytes)
{
	struct qmp_guest *qg = qmp_guest_of(g);
	int r;

	if (qg->polite) {
		/* Sent in a session starting now; should it fail, the device
		 * is reported lost, which ends the resize. */
		if (!qg->dev_id[0] || qg->busy)
			return -ENOTCONN;
		qg->set_bytes = vmem_bytes;
		qg->set_pending = 1;
		r = qmp_polite_run(qg);
		return r < 0 ? r : 0;
	}
	if (!qg->dev_id[0] || !qmp_is_up(qg->qmp))
		return -ENOTCONN;
	return qmp_guest_send_set(qg, vmem_bytes);
}

static void qmp_backend_refresh(struct guest *g)
{
	struct qmp_guest *qg = qmp_guest_of(g);

	if (qg->polite) {
		if (g_get_monotonic_time() - qg->session_us < QMP_POLITE_QUERY_MS * 1000)
			return;
		qg->want_query = 1;
		qmp_polite_run(qg);
		return;
	}
	if (!qmp_is_up(qg->qmp))
		return;
	/* Start over from the summary if it never answered: a guest whose
	 * first replies were refused is asked again, and a device added
	 * later is found. */
	if (!qg->boot_bytes)
		qmp_command(qg->qmp, "query-memory-size-summary", NULL,
			    qmp_guest_on_summary, qg);
	else
		qmp_command(qg->qmp, "query-memory-devices", NULL,
			    qmp_guest_on_devices, qg);
}

static void qmp_backend_detach(struct guest *g)
{
	struct qmp_guest *qg = qmp_guest_of(g);

	if (!qg)
		return;
	if (qg->retry)
		g_source_remove(qg->retry);
	/* Silence callbacks: the guest is going away. */
	qg->retry = 0;
	qg->sets_out = 0;
	qmp_free(qg->qmp);
	g_free(qg);
	g->backend_priv = NULL;
}

const struct backend_ops backend_qmp_ops = {
	.name = "qmp",
	.attach = qmp_backend_attach,
	.set_requested_size = qmp_backend_set_requested_size,
	.refresh = qmp_backend_refresh,
	.detach = qmp_backend_detach,
};
