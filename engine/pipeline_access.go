package engine

// Who may do what with a pipeline. As on Heroku, a pipeline belongs to
// the user who created it and is shared through its apps:
//
//   - its owner and administrators may see it, add apps to it and
//     destroy it (its apps stay);
//   - a member who may access (CheckAccess, AccessMember) an app coupled
//     to it sees it, and may add apps of theirs to it, but sees only the
//     couplings of the apps they may access, and may not destroy it;
//   - anyone else gets EFORBIDDEN, and it is absent from their lists;
//   - coupling an app, moving it to another stage and taking it out need
//     access to that app, whatever the pipeline;
//   - promoting needs access to the source and to every target (Promote).
//
// A pipeline made before pipelines had owners has none: administrators,
// and members through its apps, keep what the rules above give them.

// CheckPipelineAccess returns the pipeline (by ID or name) and its
// couplings, upstream first, when user may act on it at level:
// AccessMember to see it and add apps to it, AccessOwner to destroy it.
// Returns ENOTFOUND, or EFORBIDDEN in Heroku's words.
func (e *Engine) CheckPipelineAccess(user, pipeline string, level int) (*Pipeline, []*PipelineCoupling, error) {
	u, err := e.users().User(user)
	if err != nil {
		return nil, nil, pipelineForbidden(pipeline)
	}
	p, cs, err := e.Pipeline(pipeline)
	if err != nil {
		return nil, nil, err
	}
	if !e.CanSeePipeline(u, p, cs, level) {
		return nil, nil, pipelineForbidden(p.Name)
	}
	return p, cs, nil
}

// CanSeePipeline reports whether u may act on p, whose couplings are cs,
// at level: CheckPipelineAccess for a pipeline already read, e.g. to
// filter a list.
func (e *Engine) CanSeePipeline(u *User, p *Pipeline, cs []*PipelineCoupling, level int) bool {
	switch {
	case u == nil || p == nil:
		return false
	case u.Admin || (p.Owner != "" && p.Owner == u.Email):
		return true
	case level != AccessMember:
		return false
	}
	for _, c := range cs {
		if a, err := e.App(c.App); err == nil && CanAccess(u, a, AccessMember) {
			return true
		}
	}
	return false
}

// VisibleCouplings keeps the couplings of the apps u may access.
func (e *Engine) VisibleCouplings(u *User, cs []*PipelineCoupling) []*PipelineCoupling {
	var out []*PipelineCoupling
	for _, c := range cs {
		if a, err := e.App(c.App); err == nil && CanAccess(u, a, AccessMember) {
			out = append(out, c)
		}
	}
	return out
}

func pipelineForbidden(name string) error {
	return Errorf(EFORBIDDEN, "You do not have access to the pipeline %s.", name)
}
