/* SPDX-License-Identifier: MIT */
/*
 * Guests listed in the config file, and the [guest] settings of every
 * guest; discover.h states the contract.
 */
#include <string.h>

#include "backend.h"
#include "discover.h"
#include "guest.h"
#include "rammd.h"
#include "registry.h"

/* Does [guest] section @s hold @g's settings? (discover.h's rule) */
static int discover_section_matches(const struct guest_config *s,
				    const struct guest *g)
{
	if (strcmp(s->name, g->cfg.name))
		return 0;
	if (g->source != DISCOVER_CONFIG)
		return !s->qmp_path[0];
	return s->qmp_path[0] && !strcmp(s->qmp_path, g->cfg.qmp_path) &&
	       !strcmp(s->agent_path, g->cfg.agent_path);
}

void guest_settings_apply(const struct rammd_config *cfg, struct guest *g)
{
	struct guest_config *gc = &g->cfg;

	gc->floor_mib = gc->cap_mib = 0;
	gc->weight = gc->excluded = 0;
	for (size_t i = 0; i < cfg->n_guests; i++) {
		const struct guest_config *s = &cfg->guests[i];

		if (!discover_section_matches(s, g))
			continue;
		gc->floor_mib = s->floor_mib;
		gc->cap_mib = s->cap_mib;
		gc->weight = s->weight;
		gc->excluded = s->excluded;
		return;
	}
}

void discover_config_add(struct rammd *d)
{
	for (size_t k = 0; k < d->cfg.n_guests; k++)
		if (d->cfg.guests[k].qmp_path[0] &&
		    !registry_find(d, d->cfg.guests[k].name))
			registry_add(d, &d->cfg.guests[k], DISCOVER_CONFIG,
				     &backend_qmp_ops);
}

void discover_config_drop_gone(struct rammd *d, const struct rammd_config *next)
{
	for (guint i = d->guests->len; i-- > 0;) {
		struct guest *g = g_ptr_array_index(d->guests, i);
		int kept = g->source != DISCOVER_CONFIG;

		for (size_t k = 0; !kept && k < next->n_guests; k++)
			kept = discover_section_matches(&next->guests[k], g);
		if (!kept)
			registry_remove(d, g, "its [guest] section changed or is gone");
	}
}
