"""The back office's organization section (/office/org/): an organization's users keep its
profile and sites, apply for certification, answer findings and see their certificates.

- :mod:`.forms`: the forms; they parse input, the services decide what is allowed;
- :mod:`.views`: the pages, each limited to what the viewer may see by the selectors of the
  domain apps (another organization's object by id is a 404).
"""
