package swarm

import (
	"github.com/valyala/fastjson"

	"forge.lthn.ai/core/go-proxy/stratum"
)

// stratumParser wraps stratum.ParseRequest for the scripted proxy.
type stratumParser struct {
	p   fastjson.Parser
	req stratum.Request
}

func (sp *stratumParser) parse(line []byte) (*stratum.Request, bool) {
	if err := stratum.ParseRequest(&sp.p, line, &sp.req); err != nil {
		return nil, false
	}
	return &sp.req, true
}
