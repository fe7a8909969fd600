"""The certification body's back-office pages, one module per record they work on.

The certification body's back-office pages: incoming applications, assessment
planning and findings, corrective action review with the evidence, the decision, and the
actions on the CB's certificates.

Each object is read through a selector limited to the CBs the user is staff of (the
Secretariat sees all), so another CB's object by id is a 404. Each page offers only the
actions the user's role allows there; the services decide, and a crafted POST they refuse
gets a 403 page (a role the user lacks) or the reason next to the field it names.
"""
