package compose

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// The part of the compose file format this repository uses. Services are
// decoded with unknown keys rejected, so a misspelt key (depend_on,
// healtcheck) fails the test instead of being ignored by it; a key that is
// legitimately new needs a field here.

type composeFile struct {
	Name     string                     `yaml:"name"`
	Services map[string]*composeService `yaml:"services"`
	Volumes  map[string]any             `yaml:"volumes"`
	Networks map[string]any             `yaml:"networks"`
	// Extensions are the x-… keys (anchors the services merge in); any
	// other unknown top-level key is an error.
	Extensions map[string]any `yaml:",inline"`
}

type composeService struct {
	Image           string       `yaml:"image"`
	Build           *buildSpec   `yaml:"build"`
	Command         stringList   `yaml:"command"`
	Entrypoint      stringList   `yaml:"entrypoint"`
	Environment     stringMap    `yaml:"environment"`
	Ports           []port       `yaml:"ports"`
	Expose          []string     `yaml:"expose"`
	Volumes         []mount      `yaml:"volumes"`
	Healthcheck     *healthcheck `yaml:"healthcheck"`
	DependsOn       dependsOn    `yaml:"depends_on"`
	Restart         string       `yaml:"restart"`
	NetworkMode     string       `yaml:"network_mode"`
	Networks        any          `yaml:"networks"`
	Init            bool         `yaml:"init"`
	StopGracePeriod string       `yaml:"stop_grace_period"`
	ReadOnly        bool         `yaml:"read_only"`
	Tmpfs           any          `yaml:"tmpfs"`
	User            string       `yaml:"user"`
	Labels          any          `yaml:"labels"`
	Logging         any          `yaml:"logging"`
	// Profiles keep a service out of `docker compose up` unless one of
	// them is enabled or the service is named (docker compose run).
	Profiles []string `yaml:"profiles"`
}

type buildSpec struct {
	Context    string    `yaml:"context"`
	Dockerfile string    `yaml:"dockerfile"`
	Args       stringMap `yaml:"args"`
	Target     string    `yaml:"target"`
}

// UnmarshalYAML accepts `build: DIR` and `build: {context: DIR, …}`.
func (b *buildSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain buildSpec
	return decodeStrict(n, (*plain)(b))
}

type healthcheck struct {
	Test          stringList `yaml:"test"`
	Disable       bool       `yaml:"disable"`
	Interval      string     `yaml:"interval"`
	Timeout       string     `yaml:"timeout"`
	Retries       int        `yaml:"retries"`
	StartPeriod   string     `yaml:"start_period"`
	StartInterval string     `yaml:"start_interval"`
}

// stringList is a command or health-check test: a list, or one string.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	return n.Decode((*[]string)(l))
}

// stringMap is `environment` or build `args`: a mapping, or a list of
// KEY=VALUE items. A key without a value (taken from the host) maps to "".
type stringMap map[string]string

func (m *stringMap) UnmarshalYAML(n *yaml.Node) error {
	*m = stringMap{}
	if n.Kind == yaml.SequenceNode {
		var items []string
		if err := n.Decode(&items); err != nil {
			return err
		}
		for _, item := range items {
			k, v, _ := strings.Cut(item, "=")
			(*m)[k] = v
		}
		return nil
	}
	return n.Decode((*map[string]string)(m))
}

// port is one published port, from "[IP:][HOST:]CONTAINER[/PROTO]" or the
// long syntax.
type port struct {
	HostIP    string `yaml:"host_ip"`
	Published string `yaml:"published"`
	Target    string `yaml:"target"`
	Protocol  string `yaml:"protocol"`
	Mode      string `yaml:"mode"`
	Name      string `yaml:"name"`
}

func (p *port) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		type plain port
		return decodeStrict(n, (*plain)(p))
	}
	spec, proto, _ := strings.Cut(n.Value, "/")
	p.Protocol = proto
	parts := strings.Split(spec, ":")
	switch len(parts) {
	case 1:
		p.Target = parts[0]
	case 2:
		p.Published, p.Target = parts[0], parts[1]
	case 3:
		p.HostIP, p.Published, p.Target = parts[0], parts[1], parts[2]
	default:
		return fmt.Errorf("port %q: expected [IP:][HOST:]CONTAINER", n.Value)
	}
	return nil
}

func (p port) String() string {
	return p.HostIP + ":" + p.Published + ":" + p.Target
}

// mount is one entry of a service's volumes, "SOURCE:TARGET[:MODE]" or the
// long syntax.
type mount struct {
	Type     string `yaml:"type"`
	Source   string `yaml:"source"`
	Target   string `yaml:"target"`
	ReadOnly bool   `yaml:"read_only"`
	// Volume.Subpath mounts one directory of the volume instead of all of it.
	Volume struct {
		Subpath string `yaml:"subpath"`
	} `yaml:"volume"`
}

func (m *mount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		type plain mount
		return decodeStrict(n, (*plain)(m))
	}
	parts := strings.Split(n.Value, ":")
	switch len(parts) {
	case 1:
		m.Type, m.Target = "volume", parts[0]
		return nil
	case 2, 3:
		m.Source, m.Target = parts[0], parts[1]
		m.ReadOnly = len(parts) == 3 && strings.Contains(","+parts[2]+",", ",ro,")
	default:
		return fmt.Errorf("volume %q: expected SOURCE:TARGET[:MODE]", n.Value)
	}
	m.Type = "volume"
	if strings.HasPrefix(m.Source, ".") || strings.HasPrefix(m.Source, "/") || strings.HasPrefix(m.Source, "~") {
		m.Type = "bind"
	}
	return nil
}

// dependsOn maps each dependency to its condition; the list form means
// service_started.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, name := range names {
			(*d)[name] = "service_started"
		}
		return nil
	}
	var long map[string]struct {
		Condition string `yaml:"condition"`
		Restart   bool   `yaml:"restart"`
		Required  *bool  `yaml:"required"`
	}
	if err := decodeStrict(n, &long); err != nil {
		return err
	}
	for name, dep := range long {
		if dep.Condition == "" {
			dep.Condition = "service_started"
		}
		(*d)[name] = dep.Condition
	}
	return nil
}

// decodeStrict decodes n into out and rejects keys that out has no field
// for: the KnownFields setting of the outer decoder does not reach custom
// unmarshalers.
func decodeStrict(n *yaml.Node, out any) error {
	if err := n.Decode(out); err != nil {
		return err
	}
	return unknownKeys(n, reflect.TypeOf(out).Elem())
}

func unknownKeys(n *yaml.Node, t reflect.Type) error {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	switch t.Kind() {
	case reflect.Map:
		for i := 1; i < len(n.Content); i += 2 {
			if err := unknownKeys(n.Content[i], t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Struct:
		known := map[string]bool{"<<": true}
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			known[name] = true
		}
		for i := 0; i < len(n.Content); i += 2 {
			if key := n.Content[i]; !known[key.Value] {
				return fmt.Errorf("line %d: unknown key %q", key.Line, key.Value)
			}
		}
	}
	return nil
}

// parseCompose decodes a compose file.
func parseCompose(data []byte) (*composeFile, error) {
	var f composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	for key := range f.Extensions {
		if !strings.HasPrefix(key, "x-") {
			return nil, fmt.Errorf("unknown top-level key %q", key)
		}
	}
	return &f, nil
}
