from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from incidents import maintenance
from incidents.delivery import retry_failed
from incidents.models import (
    InboundMessage,
    Incident,
    MaintenanceEvent,
    MaintenanceWindow,
    OutboundMessage,
    ServiceSubscription,
    TimelineEvent,
    WebhookSubscription,
)
from incidents.presenters import message_address, message_error, sees_webhook_urls
from incidents.selectors import LIST_RELATED, incidents_visible_to
from procedures.models import Service
from skills.errors import DomainError, Forbidden
from skills.policy import Action
from skills.policy_admin import PolicyAdmin


class TimelineInline(admin.TabularInline):
    model = TimelineEvent
    fields = ["at", "actor", "kind", "data", "is_public"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(PolicyAdmin):
    """Read-only: incidents change through their actions (the incident page or the API)."""

    view_action = Action.MONITOR_QUEUES
    change_action = None
    list_display = ["reference", "title", "status", "priority", "team", "assignee", "created_at"]
    list_filter = ["status", "priority", "is_major", "team"]
    search_fields = ["title"]
    list_select_related = LIST_RELATED
    inlines = [TimelineInline]
    show_full_result_count = False

    def get_queryset(self, request):
        return incidents_visible_to(request.user)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Incident._meta.fields]


@admin.register(InboundMessage)
class InboundMessageAdmin(PolicyAdmin):
    """Email in: every message the desk was handed, what became of it and why (level 4
    and up, like the outbox; read-only, a record)."""

    view_action = Action.VIEW_OUTBOX
    change_action = None
    list_display = ["received_at", "sender", "subject", "via", "state", "outcome", "reason", "incident"]
    list_filter = ["state", "via", "outcome"]
    search_fields = ["sender", "subject", "message_id"]
    list_select_related = ["incident"]
    ordering = ["-received_at", "-id"]
    show_full_result_count = False

    def get_queryset(self, request):
        # Messages of incidents the person may not see stay hidden, as in the outbox.
        visible = incidents_visible_to(request.user).values("pk")
        queryset = super().get_queryset(request)
        return queryset.filter(incident__in=visible) | queryset.filter(incident__isnull=True)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in InboundMessage._meta.fields]


@admin.register(OutboundMessage)
class OutboundMessageAdmin(PolicyAdmin):
    """The outbox: what was sent, what waits, what failed for good (level 4 and up)."""

    view_action = Action.VIEW_OUTBOX
    change_action = None
    list_filter = ["state", "channel"]
    search_fields = ["to", "subject"]
    actions = ["retry"]
    show_full_result_count = False

    def get_queryset(self, request):
        # Messages of incidents the person may not see stay hidden.
        visible = incidents_visible_to(request.user).values("pk")
        queryset = super().get_queryset(request)
        return queryset.filter(incident__in=visible) | queryset.filter(incident__isnull=True)

    def _shown(self, request):
        """The address and the last error as this person may see them (webhook addresses
        masked below level 5), as columns made for this request."""
        shows = sees_webhook_urls(request.user)

        def to(message):
            return message_address(message, shows)

        def last_error(message):
            return message_error(message, shows)

        return to, last_error

    def get_list_display(self, request):
        to, _ = self._shown(request)
        return ["created_at", "channel", to, "subject", "state", "attempts", "next_attempt_at", "sent_at"]

    def get_readonly_fields(self, request, obj=None):
        to, last_error = self._shown(request)
        return [
            "incident", "channel", to, "subject", "body", "html", "headers", "dedupe_key", "state",
            "attempts", "next_attempt_at", last_error, "created_at", "sent_at",
        ]  # fmt: skip

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    def get_search_results(self, request, queryset, search_term):
        # Below level 5 a search never looks into webhook addresses (it would spell out
        # their secrets a character at a time): webhook messages match by subject only.
        if sees_webhook_urls(request.user) or not search_term:
            return super().get_search_results(request, queryset, search_term)
        emails = queryset.exclude(channel=OutboundMessage.Channel.WEBHOOK)
        found, duplicates = super().get_search_results(request, emails, search_term)
        hooks = queryset.filter(channel=OutboundMessage.Channel.WEBHOOK, subject__icontains=search_term)
        return found | hooks, duplicates

    @admin.action(description="Try again now (failed messages)")
    def retry(self, request, queryset):
        chosen = list(queryset.only("pk"))
        try:
            count = retry_failed(actor=request.user, messages=chosen)
        except Forbidden as exc:
            messages.error(request, exc.message)
            return
        skipped = len(chosen) - count
        note = f" {skipped} not failed (sent, or waiting their turn) left as they are." if skipped else ""
        messages.success(request, f"{count} failed message(s) will be tried again.{note}")


@admin.register(ServiceSubscription)
class ServiceSubscriptionAdmin(PolicyAdmin):
    """Stakeholders of a service (level 4 manages them)."""

    list_display = ["email", "service", "optional", "active", "created_at"]
    list_filter = ["service", "optional", "active"]
    search_fields = ["email"]
    fields = ["service", "email", "person", "optional", "active"]

    def save_through_service(self, request, obj, values):
        from incidents.subscriptions import subscription_save

        return subscription_save(actor=request.user, subscription=obj, **values)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(PolicyAdmin):
    """Outbound webhooks (level 5: they send incident data out of the building)."""

    change_action = Action.SET_POLICY
    view_action = Action.SET_POLICY
    list_display = ["name", "url", "active", "include_security", "created_at"]
    fields = ["name", "url", "secret", "events", "active", "include_security"]

    def save_through_service(self, request, obj, values):
        from incidents.subscriptions import webhook_save

        return webhook_save(actor=request.user, webhook=obj, **values)


class MaintenanceForm(forms.ModelForm):
    """The window's fields; PolicyAdmin's form asks the service in its clean step, so a
    refusal shows beside its field and nothing is saved."""

    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.filter(is_public=True).order_by("name"), widget=forms.CheckboxSelectMultiple,
        help_text="Public services only: the status page shows them in maintenance while the window runs.",
    )  # fmt: skip

    class Meta:
        model = MaintenanceWindow
        fields = ["title", "description", "services", "starts_at", "ends_at"]
        help_texts = {"description": "Public: shown on the status page and mailed to its subscribers."}


class MaintenanceEventInline(admin.TabularInline):
    model = MaintenanceEvent
    fields = ["at", "actor", "kind", "data"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(PolicyAdmin):
    """Announce, edit and cancel through incidents.maintenance (level 4)."""

    change_action = Action.MANAGE_MAINTENANCE
    form = MaintenanceForm
    list_display = ["title", "starts_at", "ends_at", "started_at", "ended_at", "cancelled_at"]
    list_filter = ["cancelled_at"]
    readonly_fields = ["public_id", "created_by", "created_at", "started_at", "ended_at", "cancelled_at"]
    inlines = [MaintenanceEventInline]
    actions = ["cancel_windows"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and (obj.cancelled_at or obj.ended_at or obj.ends_at <= timezone.now()):
            return False  # over: it reads, it no longer changes
        return super().has_change_permission(request, obj)

    def save_through_service(self, request, obj, values):
        if obj is None:
            return maintenance.maintenance_announce(actor=request.user, **values)
        return maintenance.maintenance_edit(actor=request.user, window=obj, **values)

    def save_related(self, request, form, formsets, change):
        """The service set the services; the event inline is read-only."""

    @admin.action(description="Cancel the selected windows (subscribers are told)")
    def cancel_windows(self, request, queryset):
        for window in queryset:
            try:
                maintenance.maintenance_cancel(actor=request.user, window=window)
            except DomainError as error:
                messages.error(request, f"{window}: {error.message}")
