package compose

import "fmt"

// The checks of the read model's part of the stack: the projector writes
// the read model into the redis service (checkQueuesAndMail sees that it
// and its readers reach that one), under a key prefix that its readers
// must use too.

// readModelPrefix is the key prefix service name writes or reads the read
// model under, as the compose file runs it, and where that comes from:
// READ_MODEL_PREFIX, else its config file's setting, else its code's
// default.
func (p *project) readModelPrefix(name string) (prefix, source string, err error) {
	const key = "READ_MODEL_PREFIX"
	if v, ok := p.env(name, key); ok {
		if v == "" {
			return "", "", fmt.Errorf("%s is empty: unset it, or name the prefix", key)
		}
		return v, key, nil
	}
	switch {
	case name == "userapi" && p.gateway.ReadModel.Prefix != "":
		return p.gateway.ReadModel.Prefix, p.configs[name] + " ReadModel.Prefix", nil
	case p.worker[name] != nil && p.worker[name].ReadModelPrefix != "":
		return p.worker[name].ReadModelPrefix, p.configs[name] + " ReadModelPrefix", nil
	}
	cmd := p.cmds[name]
	if cmd == nil {
		return "", "", fmt.Errorf("no source in ./%s", builds[name])
	}
	def, ok := cmd.envDefault(key)
	if !ok {
		return "", "", fmt.Errorf("cannot tell its read model's prefix: no default for %s in %v", key, cmd.scanned)
	}
	return def, "./" + builds[name] + "'s default " + key, nil
}

// checkReadModel: the projector and the services that read the read model
// use one key prefix (READ_MODEL_PREFIX, where set on any of them, must
// leave them all on the same), or the readers find nothing the projector
// wrote.
func checkReadModel(p *project, r *report) {
	writer := readModel[0]
	var want, wantSource string
	for i, name := range readModel {
		if p.compose.Services[name] == nil {
			continue // checkServices reports it
		}
		prefix, source, err := p.readModelPrefix(name)
		switch {
		case err != nil:
			r.add("service %s: %v", name, err)
		case i == 0:
			want, wantSource = prefix, source
		case want != "" && prefix != want:
			r.add("service %s uses the read model's keys under prefix %q (%s), but the %s writes them under %q (%s): set the same READ_MODEL_PREFIX on both, or on neither",
				name, prefix, source, writer, want, wantSource)
		}
	}
}
