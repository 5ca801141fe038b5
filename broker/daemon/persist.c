/* SPDX-License-Identifier: MIT */
/*
 * The state file glue; persist.h states the contract.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "guest.h"
#include "log.h"
#include "persist.h"
#include "rammd.h"
#include "registry.h"
#include "state.h"

static struct state_entry *persist_entry(struct rammd *d, const char *name)
{
	return d->saved_by_name ? g_hash_table_lookup(d->saved_by_name, name)
				: NULL;
}

void persist_restore(struct rammd *d, struct guest *g)
{
	struct state_entry *e = persist_entry(d, g->cfg.name);

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

/*
 * A slot for a new record. When the file is full, the record of a guest
 * not managed now makes room (the first found: records carry no age), so
 * churn cannot lock new guests out; there is always one, as no more guests
 * are managed than there are slots. O(1); when full, O(records) at worst.
 */
static struct state_entry *persist_new_entry(struct rammd *d, const char *name)
{
	struct state_entry *e = NULL;

	if (d->n_saved < STATE_MAX_ENTRIES) {
		e = &d->saved[d->n_saved++];
	} else {
		/* From where the last search stopped, so filling the file
		 * with new guests costs O(records) in all. */
		for (size_t k = 0; k < d->n_saved && !e; k++) {
			size_t i = (d->saved_cursor + k) % d->n_saved;

			if (!registry_find(d, d->saved[i].name)) {
				e = &d->saved[i];
				d->saved_cursor = i + 1;
			}
		}
		if (!e)
			return NULL;
		log_info("state file: full; the record of %s, not here now, makes room for %s",
			 e->name, name);
		g_hash_table_remove(d->saved_by_name, e->name);
	}
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	g_hash_table_insert(d->saved_by_name, e->name, e);
	return e;
}

void persist_keep(struct rammd *d, struct guest *g)
{
	struct state_entry *e = persist_entry(d, g->cfg.name);

	if (!e)
		e = persist_new_entry(d, g->cfg.name);
	if (!e)
		return;
	e->ov = g->ov;
	e->have_account = g->account_open;
	e->account = g->account;
	e->account.weight = guest_weight(g);
}

void persist_save(struct rammd *d)
{
	int ret;

	for (guint i = 0; i < d->guests->len; i++)
		persist_keep(d, g_ptr_array_index(d->guests, i));
	ret = state_save(d->cfg.state_file, d->saved, d->n_saved);
	if (ret)
		log_err("state file %s: cannot save: %s", d->cfg.state_file,
			strerror(-ret));
}

static gboolean persist_on_save(gpointer data)
{
	struct rammd *d = data;

	d->save_source = 0;
	persist_save(d);
	return G_SOURCE_REMOVE;
}

void rammd_state_changed(struct rammd *d)
{
	if (!d->save_source)
		d->save_source = g_idle_add(persist_on_save, d);
}

void persist_load(struct rammd *d)
{
	char err[256], aside[CONFIG_MAX_SOCKET_PATH + 8];
	int ret;

	d->saved = g_new0(struct state_entry, STATE_MAX_ENTRIES);
	/* Keys are the entries' own names: d->saved never moves. */
	d->saved_by_name = g_hash_table_new(g_str_hash, g_str_equal);
	ret = state_load(d->cfg.state_file, d->saved, STATE_MAX_ENTRIES,
			 &d->n_saved, err, sizeof(err));
	if (!ret) {
		for (size_t i = 0; i < d->n_saved; i++)
			g_hash_table_insert(d->saved_by_name, d->saved[i].name,
					    &d->saved[i]);
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

void persist_free(struct rammd *d)
{
	if (d->save_source)
		g_source_remove(d->save_source);
	d->save_source = 0;
	if (d->saved_by_name)
		g_hash_table_destroy(d->saved_by_name);
	d->saved_by_name = NULL;
	g_free(d->saved);
	d->saved = NULL;
	d->n_saved = 0;
}
