/* SPDX-License-Identifier: MIT */
/*
 * The guest registry; registry.h states the contract.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend.h"
#include "discover.h"
#include "guest.h"
#include "log.h"
#include "persist.h"
#include "rammd.h"
#include "registry.h"

void registry_init(struct rammd *d)
{
	d->guests = g_ptr_array_new();
	/* Keys are the guests' own cfg.name: freed with the guest. */
	d->guest_by_name = g_hash_table_new(g_str_hash, g_str_equal);
	d->guests_refused = g_hash_table_new_full(g_str_hash, g_str_equal,
						  g_free, NULL);
}

void registry_free(struct rammd *d)
{
	if (!d->guests)
		return;
	for (guint i = 0; i < d->guests->len; i++)
		guest_free(g_ptr_array_index(d->guests, i));
	g_ptr_array_free(d->guests, TRUE);
	g_hash_table_destroy(d->guest_by_name);
	g_hash_table_destroy(d->guests_refused);
	d->guests = NULL;
	d->guest_by_name = d->guests_refused = NULL;
}

struct guest *registry_find(struct rammd *d, const char *name)
{
	return g_hash_table_lookup(d->guest_by_name, name);
}

/*
 * Past the limit a scan would find the same guests every 2 s: each name is
 * logged once. The set of names refused is bounded too; when it fills, it
 * starts afresh (each of those is then logged once more).
 */
static void registry_refuse(struct rammd *d, const char *name)
{
	if (g_hash_table_contains(d->guests_refused, name))
		return;
	if (g_hash_table_size(d->guests_refused) >= RAMMD_MAX_GUESTS)
		g_hash_table_remove_all(d->guests_refused);
	g_hash_table_add(d->guests_refused, g_strdup(name));
	log_err("guest %s: more than %d guests; not managed", name,
		RAMMD_MAX_GUESTS);
}

struct guest *registry_add(struct rammd *d, const struct guest_config *gc,
			   enum discover_source source,
			   const struct backend_ops *backend)
{
	struct guest *g;
	int ret;

	if (d->guests->len >= RAMMD_MAX_GUESTS) {
		registry_refuse(d, gc->name);
		return NULL;
	}
	g = guest_new(d, gc, backend);
	if (!g) {
		log_err("guest %s: cannot start: %s", gc->name, strerror(ENOMEM));
		return NULL;
	}
	g->source = source;
	guest_settings_apply(&d->cfg, g);
	persist_restore(d, g);
	ret = guest_start(g);
	if (ret) {
		log_err("guest %s: cannot start: %s", gc->name, strerror(-ret));
		guest_free(g);
		return NULL;
	}
	g_ptr_array_add(d->guests, g);
	g_hash_table_insert(d->guest_by_name, g->cfg.name, g);
	g_hash_table_remove(d->guests_refused, gc->name);
	if (backend == &backend_qmp_ops)
		log_info("guest %s: managing (qmp %s, agent %s%s)", gc->name,
			 gc->qmp_path, gc->agent_path,
			 source == DISCOVER_PROXMOX ? ", Proxmox VM found in proxmox_dir"
			 : source == DISCOVER_SCAN ? ", found by scan" : "");
	else
		log_info("guest %s: managing (%s domain, agent %s)", gc->name,
			 backend->name, gc->agent_path);
	return g;
}

void registry_remove(struct rammd *d, struct guest *g, const char *why)
{
	log_info("guest %s: no longer managed: %s", g->cfg.name, why);
	/* Its account and overrides wait in the state file for its return. */
	persist_keep(d, g);
	rammd_state_changed(d);
	g_hash_table_remove(d->guest_by_name, g->cfg.name);
	g_ptr_array_remove(d->guests, g);
	guest_free(g);
}
