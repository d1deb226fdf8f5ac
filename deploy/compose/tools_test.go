package compose

import (
	"maps"
	"slices"
)

// checkTools: the tools are in a profile, so that `docker compose up`
// leaves them out, and no other service is (the stack needs all the
// rest); no service `up` starts waits for one in a profile; a tool's
// command sets none of the settings the checks read from its environment.
func checkTools(p *project, r *report) {
	for _, name := range sortedServices(p) {
		s := p.compose.Services[name]
		switch {
		case tools[name] && len(s.Profiles) == 0:
			r.add("service %s is run by hand (docker compose run --rm %s): give it a profile (profiles: [tools]), or `docker compose up` runs it at every start", name, name)
		case !tools[name] && len(s.Profiles) > 0:
			r.add("service %s is in profiles %v: `docker compose up` would leave it out, but the stack needs it", name, s.Profiles)
		}
		if len(s.Profiles) > 0 {
			continue
		}
		for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
			if d := p.compose.Services[dep]; d != nil && len(d.Profiles) > 0 {
				r.add("service %s depends on %s, which is in profiles %v: `docker compose up` does not start it", name, dep, d.Profiles)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(toolFlags)) {
		s, cmd := p.compose.Services[name], p.cmds[name]
		if s == nil || cmd == nil {
			continue // checkServices reports it
		}
		set := flags(s.Command)
		for _, f := range slices.Sorted(maps.Keys(toolFlags[name])) {
			if !cmd.declaresFlag(f) {
				r.add("./%s (%v) declares no -%s flag: toolFlags is out of date", builds[name], cmd.scanned, f)
			}
			if _, ok := set[f]; ok {
				r.add("service %s: its command sets -%s; set %s in its environment instead, where the checks compare it", name, f, toolFlags[name][f])
			}
		}
	}
}
