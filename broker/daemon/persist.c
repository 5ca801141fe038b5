/* SPDX-License-Identifier: MIT */
/*
 * The state file glue; persist.h states the contract.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
	char what[160];

	if (!e)
		return;
	g->ov = e->ov;
	snprintf(g->uuid, sizeof(g->uuid), "%s", e->uuid);
	if (e->have_account) {
		g->account = e->account;
		g->account_open = 1;
	}
	guest_describe_record(g, what, sizeof(what));
	log_info("guest %s: restored from the state file: %s%s%s",
		 g->cfg.name, what, g->uuid[0] ? ", of VM uuid " : "", g->uuid);
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
	snprintf(e->uuid, sizeof(e->uuid), "%s", g->uuid);
	e->have_account = g->account_open;
	e->account = g->account;
	e->account.weight = guest_weight(g);
}

/*
 * A save on its worker thread. The thread reads only this (its own copy of
 * the path and the file text, taken on the loop) and writes only @ret, so
 * nothing is shared with the loop and nothing is locked; the loop frees
 * it once the thread has been joined.
 */
struct persist_job {
	struct rammd *d;
	GThread *thread;
	char *path;   /* owned */
	char *text;   /* the file text, owned (free()) */
	size_t len;
	int ret;      /* state_write()'s, set by the thread */
};

static void persist_job_free(struct persist_job *job)
{
	g_free(job->path);
	free(job->text);
	g_free(job);
}

/*
 * Join @d's save in flight, log its failure and free it. From the loop,
 * the thread has said it is done; at exit (@at_exit) this waits for it,
 * and takes back the completion it queued for a loop that no longer runs.
 */
static void persist_job_end(struct rammd *d, int at_exit)
{
	struct persist_job *job = d->save_job;

	g_thread_join(job->thread);
	if (at_exit)
		g_idle_remove_by_data(job);
	if (job->ret)
		log_err("state file %s: cannot save: %s", job->path,
			strerror(-job->ret));
	d->save_job = NULL;
	persist_job_free(job);
}

static gboolean persist_on_saved(gpointer data)
{
	struct persist_job *job = data;
	struct rammd *d = job->d;

	persist_job_end(d, 0);
	if (d->save_again) {
		d->save_again = 0;
		persist_save(d);
	}
	return G_SOURCE_REMOVE;
}

static gpointer persist_thread(gpointer data)
{
	struct persist_job *job = data;

	job->ret = state_write(job->path, job->text, job->len);
	/* The loop joins the thread (g_idle_add*() is thread-safe); default
	 * priority, so that a busy loop does not starve it. */
	g_idle_add_full(G_PRIORITY_DEFAULT, persist_on_saved, job, NULL);
	return NULL;
}

/* Every managed guest's record, then the file text of all records; NULL
 * (logged) if they cannot be formatted. */
static char *persist_text(struct rammd *d, size_t *len)
{
	char *text;
	int ret;

	for (guint i = 0; i < d->guests->len; i++)
		persist_keep(d, g_ptr_array_index(d->guests, i));
	ret = state_format(d->saved, d->n_saved, &text, len);
	if (ret) {
		log_err("state file %s: cannot save: %s", d->cfg.state_file,
			strerror(-ret));
		return NULL;
	}
	return text;
}

void persist_save(struct rammd *d)
{
	struct persist_job *job;
	GError *err = NULL;

	if (d->save_job) {
		d->save_again = 1;
		return;
	}
	job = g_new0(struct persist_job, 1);
	job->d = d;
	job->path = g_strdup(d->cfg.state_file);
	job->text = persist_text(d, &job->len);
	if (!job->text) {
		persist_job_free(job);
		return;
	}
	d->save_job = job;
	job->thread = g_thread_try_new("ramm-save", persist_thread, job, &err);
	if (!job->thread) {
		/* No thread to be had: the save is not worth losing. */
		log_warn("state file %s: no worker thread (%s); saving on the main loop",
			 job->path, err->message);
		g_error_free(err);
		job->ret = state_write(job->path, job->text, job->len);
		if (job->ret)
			log_err("state file %s: cannot save: %s", job->path,
				strerror(-job->ret));
		d->save_job = NULL;
		persist_job_free(job);
	}
}

void persist_flush(struct rammd *d)
{
	char *text;
	size_t len;
	int ret;

	if (d->save_job)
		persist_job_end(d, 1);
	d->save_again = 0;
	text = persist_text(d, &len);
	if (!text)
		return;
	ret = state_write(d->cfg.state_file, text, len);
	if (ret)
		log_err("state file %s: cannot save: %s", d->cfg.state_file,
			strerror(-ret));
	free(text);
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
	if (d->save_job)
		persist_job_end(d, 1);
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
