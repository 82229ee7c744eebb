"""The library in Django's admin (staff only, as all of /admin/ is).

Built-ins are read-only here, with "fork" to get an editable copy. Why: the built-ins are the
lecture's scenarios, owned by their files in broker_core/scenarios/ and reloaded from them by
`manage.py load_scenarios` on every `make run`; an edit in the admin would be silently
overwritten at the next start, and their /s/<slug> links, printed in course pages, must keep
meaning what the lecture says. A fork (slug "<slug>-copy", forked_from set) is the teacher's own
to change.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from broker_core.scenario import ScenarioError
from playground.presenter import presenter_token
from playground.rooms.errors import RoomsFull

from .forms import (
    REGISTRY_ATTR,
    GroupForm,
    PartFormSet,
    ProducerForm,
    ScenarioForm,
    TimelineForm,
    TopicForm,
)
from .models import Group, Producer, Scenario, TimelineEntry, Topic
from .opening import open_room_for
from .store import fork_scenario


class PartInline:
    formset = PartFormSet
    extra = 0

    def _editable(self, request, obj) -> bool:
        return obj is None or not obj.builtin

    def has_add_permission(self, request, obj=None):
        return self._editable(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(request, obj) and super().has_delete_permission(request, obj)


class TopicInline(PartInline, admin.TabularInline):
    model = Topic
    form = TopicForm
    extra = 1


class GroupInline(PartInline, admin.StackedInline):
    model = Group
    form = GroupForm


class ProducerInline(PartInline, admin.StackedInline):
    model = Producer
    form = ProducerForm


class TimelineInline(PartInline, admin.TabularInline):
    model = TimelineEntry
    form = TimelineForm


def _open(modeladmin, request, scenario):
    try:
        room_id = open_room_for(scenario, owner=presenter_token(request.session))
    except ScenarioError as e:
        modeladmin.message_user(request, f"{scenario.slug} does not validate any more: {e}",
                                messages.ERROR)
        return None
    except RoomsFull as e:
        modeladmin.message_user(request, f"{e}; try again in a few minutes.", messages.ERROR)
        return None
    return HttpResponseRedirect(f"/r/{room_id}")


@admin.action(description="Open in playground (a new room)", permissions=["view"])
def open_in_playground(modeladmin, request, queryset):
    if queryset.count() != 1:
        modeladmin.message_user(request, "Pick exactly one scenario to open.",
                                messages.WARNING)
        return None
    return _open(modeladmin, request, queryset.get())


@admin.action(description="Fork (an editable copy)", permissions=["add"])
def fork(modeladmin, request, queryset):
    copies = [fork_scenario(s) for s in queryset]
    if len(copies) == 1:
        modeladmin.message_user(request, f"Forked as {copies[0].slug}.", messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:library_scenario_change", args=[copies[0].pk]))
    modeladmin.message_user(request, f"Forked: {', '.join(c.slug for c in copies)}.",
                            messages.SUCCESS)
    return None


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    form = ScenarioForm
    inlines = (TopicInline, GroupInline, ProducerInline, TimelineInline)
    list_display = ("slug", "title", "builtin", "forked_from", "updated")
    list_filter = ("builtin",)
    search_fields = ("slug", "title")
    readonly_fields = ("builtin", "forked_from", "created", "updated")
    actions = (open_in_playground, fork)
    fieldsets = (
        (None, {"fields": ("slug", "title", "teaches", "description")}),
        ("Cluster", {"fields": ("seed", "brokers", "duration_ms", "cluster_config")}),
        ("Narration", {"fields": ("steps", "figures"), "classes": ("collapse",)}),
        ("Provenance", {"fields": ("builtin", "forked_from", "created", "updated")}),
    )

    def get_formset_kwargs(self, request, obj, inline, prefix):
        # The main form's clean() finds its inline formsets here (forms.py explains why).
        registry = obj.__dict__.setdefault(REGISTRY_ATTR, {})
        return {**super().get_formset_kwargs(request, obj, inline, prefix),
                "registry": registry}

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.builtin:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.builtin:
            return False
        return super().has_delete_permission(request, obj)

    def get_urls(self):
        return [
            path("<path:object_id>/open/", self.admin_site.admin_view(self.open_view),
                 name="library_scenario_open"),
            path("<path:object_id>/fork/", self.admin_site.admin_view(self.fork_view),
                 name="library_scenario_fork"),
            *super().get_urls(),
        ]

    def _post_target(self, request, object_id):
        if request.method != "POST":
            return None, HttpResponseNotAllowed(["POST"])
        scenario = get_object_or_404(Scenario, pk=object_id)
        if not self.has_view_or_change_permission(request, scenario):
            raise PermissionDenied
        return scenario, None

    def open_view(self, request, object_id):
        scenario, refused = self._post_target(request, object_id)
        if refused:
            return refused
        return _open(self, request, scenario) or HttpResponseRedirect(
            reverse("admin:library_scenario_change", args=[scenario.pk]))

    def fork_view(self, request, object_id):
        scenario, refused = self._post_target(request, object_id)
        if refused:
            return refused
        if not self.has_add_permission(request):
            raise PermissionDenied
        return fork(self, request, Scenario.objects.filter(pk=scenario.pk))
