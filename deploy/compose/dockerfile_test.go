package compose

import (
	"path"
	"strings"
)

// dockerfile is the part of a Dockerfile the checks need: its stages, the
// files each copies in, and its RUN commands.
type dockerfile struct {
	args   []string
	runs   []string
	stages []*stage
}

type stage struct {
	name    string
	from    string // its base image
	user    string // USER, "" when the stage sets none
	workdir string
	copies  []copyInstr
}

type copyInstr struct {
	from     string // stage name, "" for the build context
	src, dst string
}

func parseDockerfile(text string) *dockerfile {
	d := &dockerfile{}
	text = strings.ReplaceAll(text, "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		instr, rest := strings.ToUpper(fields[0]), fields[1:]
		var cur *stage
		if len(d.stages) > 0 {
			cur = d.stages[len(d.stages)-1]
		}
		switch {
		case instr == "FROM":
			for len(rest) > 0 && strings.HasPrefix(rest[0], "--") {
				rest = rest[1:] // --platform=…
			}
			s := &stage{workdir: "/"}
			if len(rest) > 0 {
				s.from = rest[0]
			}
			if len(rest) >= 3 && strings.EqualFold(rest[1], "AS") {
				s.name = rest[2]
			}
			d.stages = append(d.stages, s)
		case instr == "USER" && cur != nil && len(rest) == 1:
			cur.user = rest[0]
		case instr == "ARG" && len(rest) > 0:
			name, _, _ := strings.Cut(rest[0], "=")
			d.args = append(d.args, name)
		case instr == "RUN":
			d.runs = append(d.runs, strings.Join(rest, " "))
		case instr == "WORKDIR" && cur != nil && len(rest) == 1:
			cur.workdir = resolve(cur.workdir, rest[0])
		case instr == "COPY" && cur != nil:
			c := copyInstr{}
			var paths []string
			for _, f := range rest {
				if v, ok := strings.CutPrefix(f, "--from="); ok {
					c.from = v
				} else if !strings.HasPrefix(f, "--") {
					paths = append(paths, f)
				}
			}
			if len(paths) == 2 {
				c.src, c.dst = paths[0], resolve(cur.workdir, paths[1])
				cur.copies = append(cur.copies, c)
			}
		}
	}
	return d
}

// resolve is p inside a stage whose WORKDIR is dir.
func resolve(dir, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(dir, p)
}

func (d *dockerfile) final() *stage {
	if len(d.stages) == 0 {
		return &stage{workdir: "/"}
	}
	return d.stages[len(d.stages)-1]
}

func (d *dockerfile) stage(name string) *stage {
	for _, s := range d.stages {
		if s.name == name {
			return s
		}
	}
	return nil
}

// copiedFrom says where the final image's file at p comes from: the path
// in the build stage that a COPY --from=STAGE took it from (the file itself
// or a directory holding it), and that stage.
func (d *dockerfile) copiedFrom(p string) (src string, from *stage, ok bool) {
	for _, c := range d.final().copies {
		rest, ok := strings.CutPrefix(p, c.dst)
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
			continue
		}
		if s := d.stage(c.from); s != nil {
			return path.Join(c.src, rest), s, true
		}
	}
	return "", nil, false
}

// hasArg says whether the Dockerfile declares build argument name.
func (d *dockerfile) hasArg(name string) bool {
	for _, a := range d.args {
		if a == name {
			return true
		}
	}
	return false
}

// fromContext maps path p inside stage s back to the build context, through
// the stage's `COPY . DIR`.
func (s *stage) fromContext(p string) (string, bool) {
	for _, c := range s.copies {
		if c.from != "" || path.Clean(c.src) != "." {
			continue
		}
		if rel, ok := strings.CutPrefix(p, c.dst+"/"); ok {
			return rel, true
		}
	}
	return "", false
}

// distrolessNonroot is the uid:gid of the user distroless's nonroot images
// run as (their /etc/passwd names it nonroot).
const distrolessNonroot = "65532:65532"

// runtimeUser is the user the images built here run as, as uid:gid where
// known: the final stage's USER, else its base image's user (root, but for
// distroless's nonroot images).
func (d *dockerfile) runtimeUser() string {
	s := d.final()
	ref, _, _ := strings.Cut(s.from, "@") // without a digest
	_, tag, _ := strings.Cut(path.Base(ref), ":")
	distroless := strings.HasPrefix(ref, "gcr.io/distroless/")
	switch {
	case s.user == "nonroot" && distroless:
		return distrolessNonroot
	case s.user != "":
		return s.user
	case distroless && strings.Contains(tag, "nonroot"):
		return distrolessNonroot
	}
	return "0"
}

// runtimeHome is the home directory of the user the images run as, a
// directory the image holds for that user, or "" when unknown.
func (d *dockerfile) runtimeHome() string {
	switch user := d.runtimeUser(); {
	case user == distrolessNonroot && strings.HasPrefix(d.final().from, "gcr.io/distroless/"):
		return "/home/nonroot"
	case isRoot(user):
		return "/root"
	}
	return ""
}
