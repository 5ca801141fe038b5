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
 *
 * libvirt calls are synchronous and made from the main loop.
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

struct lv_guest {
	struct guest *g;               /* owner */
	virDomainPtr dom;              /* on the current connection, or NULL */
	char alias[LV_XML_MAX_ALIAS];  /* virtio-mem alias, "" until read */
	int paused;                    /* not driven until bound running */
	int last_error;                /* last read failure logged */
};

static struct {
	virConnectPtr conn;            /* not owned; NULL while disconnected */
	int closed;                    /* the connection died, not closed yet */
	int cb_size;                   /* size-change callback id, -1 if none */
	GPtrArray *guests;             /* struct lv_guest *, not owned */
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

void backend_libvirt_bind(struct guest *g, virDomainPtr dom,
			  const struct lv_domain_info *info)
{
	struct lv_guest *lg = g->backend_priv;

	if (lg->dom != dom) {
		lv_guest_drop_domain(lg);
		virDomainRef(dom);
		lg->dom = dom;
	}
	lg->paused = !info;
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
			 backend_libvirt_error());
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
	ret = backend_libvirt_read_domain(lg->dom, &info);
	if (!ret && strcmp(info.agent_path, g->cfg.agent_path))
		ret = -ENODEV;
	if (ret) {
		if (ret != lg->last_error)
			log_warn("guest %s: cannot read the domain: %s; not driven until it can",
				 g->cfg.name,
				 ret == -ENOTCONN ? backend_libvirt_error() :
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
	.refresh = lv_backend_refresh,
	.detach = lv_backend_detach,
};
