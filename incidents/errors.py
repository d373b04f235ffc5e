"""Messages the services raise; tests reuse them."""

NOT_IN_STATE = "Cannot {action} an incident that is {status}."
ALREADY_ACKNOWLEDGED = "The incident was already acknowledged."
ALREADY_MAJOR = "The incident is already a major incident."
ASSIGNEE_NOT_IN_TEAM = "{username} is not a member of the team {team}."
ASSIGNEE_NOT_STAFF = "{username} is not service desk staff."
NOTHING_TO_ASSIGN = "Give a team, an assignee or both."
SAME_TEAM = "The incident is already with {team}."
ON_BEHALF_NEEDS_STAFF = "Only service desk staff may register an incident for someone else."
TASKS_OPEN = "Mandatory tasks are not done: {tasks}. Do them, or override with a reason (level 4)."
NO_SUCH_TASK = "The incident has no task {position}."
TASK_DONE = "The task {title!r} is already done."
NO_SUCH_DEADLINE = "The incident has no such deadline."
DEADLINE_MET = "The deadline {name!r} was already met."
COMMS_LEAD_LEVEL = "{username} cannot lead a major incident's communications: it needs SFIA level 5."

# Registering a call, links, the people affected
REGISTRATION_KEY_TAKEN = "This form was already used by someone else; reload it and register again."
LINK_SELF = "An incident cannot be linked to itself."
LINK_EXISTS = "{reference} is already linked to {other}."
AFFECTED_ONLY_YOURSELF = "You may add only yourself as affected."
AFFECTED_ALREADY = "{username} is already recorded as affected by {reference}."
# Requesters
REOPEN_WINDOW_CLOSED = "It was resolved more than {days} days ago: report a new incident instead."
NOT_YOUR_TEAM = "You can share a view only with a team you belong to ({team} is not one of yours)."
NOT_YOUR_VIEW = "Only the person who saved the view {name!r} may change it."
BULK_NOT_FOUND = "No such incident, or not one you may see."
PUBLISH_SECURITY = "A security incident goes on the public status page only when level 5 publishes a statement."
NOT_PUBLIC_SERVICE = "The service {service} is not shown on the public status page."
NO_SERVICE = "An incident without a service has no place on the public status page."
# Attachments
ATTACHMENT_TOO_BIG = "“{name}” is {size}: the limit is {limit} per file."
INCIDENT_ATTACHMENTS_FULL = (
    "{reference} already holds {used} of attachments: “{name}” ({size}) would pass the limit of {limit} per incident."
)
ATTACHMENT_EMPTY = "“{name}” is empty."
ATTACHMENT_TYPE = "The content of “{name}” is not a type Firebreak accepts. Allowed: {allowed}."
ATTACHMENT_LYING_NAME = (
    "“{name}” is named .{ext} but its content is {kind}: refused. Attach the real file, or name it .{right}."
)
ARCHIVE_TOO_BIG = "The archive expands to more than {limit}: refused (it may be a zip bomb)."
ARCHIVE_TOO_MANY = "The archive holds more than {limit} files: refused."
ARCHIVE_ENCRYPTED = "The archive is encrypted, so it cannot be checked: refused."
ARCHIVE_NESTED = "The archive holds another archive ({name}), whose expansion cannot be checked: refused."
ARCHIVE_CORRUPT = "The {kind} is damaged or uses a method Firebreak cannot read: refused."
NO_FILE = "Choose a file to attach."
