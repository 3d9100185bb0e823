"""Taper plans, their versions and steps, and doses taken, over REST.

Reads serve EHR clients; writes go through taper.services, so the API refuses exactly what the pages
refuse (psychiatrist-only approval, holds, pace changes and cap overrides included) and every write is
audited there. Versions and steps are read-only: a schedule changes only by a plan action, which makes a
new version and keeps the old ones readable.

Plan actions share one route, `/taper-plans/{id}/transition/`: GET says which actions the plan's status
allows and who may take them, POST `{"action": …}` takes one. Each action has its own permission
(`TRANSITION_PERMS`: propose/activate need TAPER_DRAFT, the rest TAPER_APPROVE, i.e. a psychiatrist),
checked before anything is read from the body; the services check the same rules again. One route
rather than one per action, like the inquiry `advance` route, because which action is possible depends
on the plan's status, not on the URL.
"""

from __future__ import annotations

import django_filters
from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.base import ClinicViewSet
from api.lookups import resolve_in_clinic
from api.pagination import StableCursorPagination
from clinic.actors import as_actor
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from patients.models import Patient
from taper import services
from taper.catalogue import EquivalenceTable, load_catalogue
from taper.dosing import Form
from taper.engine import LiquidUse, Strategy
from taper.models import DoseRecord, TaperPlan, TaperPlanVersion, TaperStep
from taper.policy import policy

# What a read of these endpoints discloses to an outside system (42 CFR Part 2 consent category).
TAPER_CATEGORIES = ("medications",)

S = TaperPlan.Status
TRANSITION_PERMS: dict[str, Perm] = {
    "propose": Perm.TAPER_DRAFT,
    "approve": Perm.TAPER_APPROVE,
    "activate": Perm.TAPER_DRAFT,
    "hold": Perm.TAPER_APPROVE,
    "resume": Perm.TAPER_APPROVE,
    "slow": Perm.TAPER_APPROVE,
    "close": Perm.TAPER_APPROVE,
}
TRANSITION_HELP = {
    "propose": "Send a draft for a psychiatrist's approval.",
    "approve": (
        "Approve a draft or proposed plan (psychiatrist). If the current version carries `warnings`, send "
        "its `warnings_digest` as `warnings_seen`: the approval records that they were shown."
    ),
    "activate": "Start an approved plan. Activating an active plan changes nothing (200).",
    "hold": "Pause an active plan from `from_date`: for `days`, or until resumed when `days` is empty.",
    "resume": "End an open hold: the next reduction starts on `from_date` (optionally a new pace).",
    "slow": "Change the pace from `from_date`: `rate_percent` every `interval_days`.",
    "close": "Complete (active plan) or stop (any open plan) with a `reason`.",
}
TRANSITION_FIELDS = {
    "propose": [],
    "approve": ["note", "warnings_seen"],
    "activate": [],
    "hold": ["from_date", "days", "reason"],
    "resume": ["from_date", "reason", "rate_percent", "interval_days"],
    "slow": ["from_date", "reason", "rate_percent", "interval_days"],
    "close": ["outcome", "reason"],
}


def _allowed_from(plan: TaperPlan) -> list[str]:
    """The actions this plan's status allows (the services have the final word)."""
    if plan.status == S.DRAFT:
        return ["propose", "approve", "close"]
    if plan.status == S.PROPOSED:
        return ["approve", "close"]
    if plan.status == S.APPROVED:
        return ["activate", "close"]
    if plan.status == S.ACTIVE:
        return ["resume", "close"] if plan.held_since else ["hold", "slow", "close"]
    return []


# --- shapes of the JSON stored on versions and steps --------------------------------------------------------
class TaperRegimenLineSerializer(serializers.Serializer):
    drug = serializers.CharField(max_length=40, help_text="Catalogue name, e.g. alprazolam, diazepam.")
    dose_mg = serializers.DecimalField(
        max_digits=9, decimal_places=3, help_text="mg per administration (> 0)."
    )
    time_of_day = serializers.RegexField(r"^\d{1,2}:\d{2}$", max_length=5, help_text="24-hour HH:MM.")
    form = serializers.ChoiceField(
        choices=[(f.value, f.value) for f in Form],
        required=False,
        allow_null=True,
        help_text="tablet (tablets or capsules) or liquid; empty: tablets when they make the dose.",
    )


HOLD_DAYS = policy().limits.hold_days
INTERVAL_DAYS = policy().limits.interval_days
SWITCH_DAYS = policy().limits.substitution_interval_days


class TaperHoldSerializer(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=HOLD_DAYS[0],
        max_value=HOLD_DAYS[1],
        allow_null=True,
        help_text="Null only for an open hold (until resumed).",
    )
    at_step = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    on_date = serializers.DateField(required=False, allow_null=True)


class TaperStepDoseSerializer(serializers.Serializer):
    drug = serializers.CharField()
    time = serializers.CharField(help_text="HH:MM")
    mg = serializers.DecimalField(max_digits=9, decimal_places=3)
    de_mg = serializers.DecimalField(max_digits=9, decimal_places=3, help_text="Diazepam-equivalent mg.")
    tablets = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2),
        help_text="[[formulation_id, count]] — count may be a fraction (0.5 = half a tablet).",
    )
    liquid = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        min_length=2,
        max_length=2,
        help_text="[formulation_id, mL] or null.",
    )


class TaperWarningSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="e.g. high_dose, over_rate, cap_override, tail, unverified.")
    rule = serializers.CharField(help_text="The rule behind it (taper/data/taper_rules.json).")
    title = serializers.CharField()
    detail = serializers.CharField()
    source = serializers.CharField(help_text="Where the rule comes from (URL or policy).")
    steps = serializers.ListField(child=serializers.IntegerField())


class TaperAlternativeSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    outcome = serializers.CharField()
    changes = serializers.DictField(child=serializers.CharField(), help_text="What to change in the request.")
    fixes = serializers.BooleanField()
    psychiatrist_only = serializers.BooleanField()


class TaperDispenseSerializer(serializers.Serializer):
    formulation_id = serializers.CharField()
    description = serializers.CharField()
    tablets = serializers.IntegerField(allow_null=True)
    ml = serializers.CharField(allow_null=True)
    unverified = serializers.BooleanField()


# --- versions and steps -------------------------------------------------------------------------------------
class TaperVersionSummarySerializer(serializers.ModelSerializer):
    table_label = serializers.CharField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    approved_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    violations = serializers.ListField(child=serializers.CharField(), read_only=True)
    unverified = serializers.ListField(child=serializers.CharField(), read_only=True)
    warnings = TaperWarningSerializer(many=True, read_only=True)
    warnings_digest = serializers.SerializerMethodField(
        help_text="Send as `warnings_seen` when approving this version."
    )
    override_steps = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = TaperPlanVersion
        fields = (
            "id",
            "number",
            "change",
            "reason",
            "effective_from",
            "table",
            "table_label",
            "strategy",
            "rate_percent",
            "interval_days",
            "baseline_de_mg",
            "end_date",
            "final_de_mg",
            "cap_wording",
            "cap_source",
            "violations",
            "unverified",
            "warnings",
            "warnings_digest",
            "override_reason",
            "override_steps",
            "high_dose_confirmation",
            "created_by",
            "created_at",
            "approved_by",
            "approved_at",
        )
        read_only_fields = fields

    def get_warnings_digest(self, obj: TaperPlanVersion) -> str:
        return services.warnings_digest(obj)


class TaperVersionSerializer(TaperVersionSummarySerializer):
    plan = serializers.UUIDField(source="plan_id", read_only=True)
    patient = serializers.UUIDField(source="patient_id", read_only=True)
    regimen = TaperRegimenLineSerializer(
        many=True, read_only=True, help_text="In effect before effective_from."
    )
    holds = TaperHoldSerializer(many=True, read_only=True)
    formulations = serializers.ListField(child=serializers.CharField(), read_only=True)
    notes = serializers.ListField(child=serializers.CharField(), read_only=True)
    alternatives = TaperAlternativeSerializer(
        many=True, read_only=True, help_text="What would keep the requested pace, each option tried."
    )
    approval_warnings = TaperWarningSerializer(
        many=True, read_only=True, help_text="The warnings shown to the psychiatrist who approved it."
    )
    equivalence_source = serializers.SerializerMethodField()

    class Meta(TaperVersionSummarySerializer.Meta):
        fields = (
            "plan",
            "patient",
            *TaperVersionSummarySerializer.Meta.fields,
            "regimen",
            "substitution_interval_days",
            "slow_rate_percent",
            "slow_below_de_mg",
            "target_de_mg",
            "holds",
            "formulations",
            "liquid",
            "min_switch_days",
            "tail_floor_de_mg",
            "other_table",
            "baseline_other_de_mg",
            "notes",
            "alternatives",
            "approval_warnings",
            "equivalence_source",
        )
        read_only_fields = fields

    def get_equivalence_source(self, obj: TaperPlanVersion) -> str:
        return load_catalogue().meta.get("equivalence_source", "")


class TaperStepSerializer(serializers.ModelSerializer):
    plan = serializers.UUIDField(source="plan_id", read_only=True)
    version = serializers.UUIDField(source="version_id", read_only=True)
    patient = serializers.UUIDField(source="patient_id", read_only=True)
    doses = TaperStepDoseSerializer(many=True, read_only=True)
    dispense = TaperDispenseSerializer(many=True, read_only=True)
    flags = serializers.ListField(child=serializers.CharField(), read_only=True)
    daily_mg_by_drug = serializers.DictField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = TaperStep
        fields = (
            "id",
            "plan",
            "version",
            "patient",
            "index",
            "phase",
            "start",
            "end",
            "daily_de_mg",
            "daily_mg_by_drug",
            "window_reduction_percent",
            "step_percent",
            "requested_percent",
            "other_table_de_mg",
            "delayed_days",
            "doses",
            "dispense",
            "flags",
        )
        read_only_fields = fields


# --- plans --------------------------------------------------------------------------------------------------
class TaperPlanSerializer(serializers.ModelSerializer):
    patient = serializers.UUIDField(source="patient_id", read_only=True)
    current_version = TaperVersionSummarySerializer(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    approved_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)

    class Meta:
        model = TaperPlan
        fields = (
            "id",
            "patient",
            "status",
            "held_since",
            "current_version",
            "created_by",
            "created_at",
            "approved_by",
            "approved_at",
            "activated_at",
            "closed_at",
            "closed_reason",
            "updated_at",
        )
        read_only_fields = fields


class TaperPlanCreateSerializer(serializers.Serializer):
    """A new plan (draft): the regimen the patient takes now and how to taper it."""

    patient = serializers.UUIDField()
    regimen = TaperRegimenLineSerializer(many=True, max_length=12)
    start_date = serializers.DateField()
    rate_percent = serializers.DecimalField(
        max_digits=6,
        decimal_places=2,
        help_text="Percent of the current daily dose per step (0 < rate ≤ 100).",
    )
    interval_days = serializers.IntegerField(
        min_value=INTERVAL_DAYS[0], max_value=INTERVAL_DAYS[1], help_text="Days per step."
    )
    table = serializers.ChoiceField(
        choices=[(t.value, t.label) for t in EquivalenceTable],
        required=False,
        help_text="Equivalence table; defaults to the clinic's.",
    )
    strategy = serializers.ChoiceField(
        choices=[(s.value, s.value.replace("_", " ")) for s in Strategy], default=Strategy.DIRECT.value
    )
    substitution_interval_days = serializers.IntegerField(
        min_value=SWITCH_DAYS[0], max_value=SWITCH_DAYS[1], required=False, allow_null=True, default=None
    )
    min_switch_days = serializers.IntegerField(
        min_value=0,
        max_value=56,
        required=False,
        allow_null=True,
        default=None,
        help_text="Cross-titration: spread the switch over at least this many days (default 7).",
    )
    slow_rate_percent = serializers.DecimalField(
        max_digits=6, decimal_places=2, required=False, allow_null=True, default=None
    )
    slow_below_de_mg = serializers.DecimalField(
        max_digits=9, decimal_places=3, required=False, allow_null=True, default=None
    )
    target_de_mg = serializers.DecimalField(max_digits=9, decimal_places=3, required=False, default=0)
    holds = TaperHoldSerializer(many=True, required=False, max_length=20, default=list)
    liquid = serializers.ChoiceField(
        choices=[(c.value, c.value) for c in LiquidUse],
        default=LiquidUse.CAP.value,
        help_text="When a dose may move to the stocked oral liquid: cap (only where tablets cannot keep the "
        "guideline cap), pace (also where they cannot keep the requested pace) or never.",
    )
    override_reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Only a psychiatrist may override the guideline cap, with a written reason and the steps.",
    )
    override_steps = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        max_length=400,
        help_text="The steps the override accepts over the cap (a refusal lists them in `violations`).",
    )
    high_dose_confirmation = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text="For a daily dose above 15 mg diazepam-equivalent: the daily DE, typed to confirm it.",
    )
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class TaperPlanTransitionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=list(TRANSITION_PERMS))
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    warnings_seen = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="approve: the current version's `warnings_digest`.",
    )
    from_date = serializers.DateField(
        required=False, help_text="hold/resume/slow: defaults to today (clinic)."
    )
    days = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="hold: days, or empty until resumed."
    )
    rate_percent = serializers.DecimalField(max_digits=6, decimal_places=2, required=False, allow_null=True)
    interval_days = serializers.IntegerField(
        min_value=INTERVAL_DAYS[0], max_value=INTERVAL_DAYS[1], required=False, allow_null=True
    )
    outcome = serializers.ChoiceField(
        choices=[(S.COMPLETED.value, "Completed"), (S.STOPPED.value, "Stopped")], required=False
    )


class TaperPlanActionOptionSerializer(serializers.Serializer):
    action = serializers.CharField()
    description = serializers.CharField()
    permission = serializers.CharField()
    allowed_for_you = serializers.BooleanField()
    fields = serializers.ListField(child=serializers.CharField())


class TaperPlanTransitionsSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=S.choices)
    held_since = serializers.DateField(allow_null=True)
    actions = TaperPlanActionOptionSerializer(many=True)


class PlanFilter(django_filters.FilterSet):
    # Declared explicitly: django-filter's automatic fields query the (scoped) manager at import time.
    patient = django_filters.UUIDFilter(field_name="patient_id")
    status = django_filters.ChoiceFilter(choices=S.choices)
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = TaperPlan
        fields: tuple = ()


class _TaperViewSet(ClinicViewSet):
    disclosure_categories = TAPER_CATEGORIES


class TaperPlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _TaperViewSet):
    model = TaperPlan
    serializer_class = TaperPlanSerializer
    filterset_class = PlanFilter
    action_perms = {
        "list": Perm.TAPER_VIEW,
        "retrieve": Perm.TAPER_VIEW,
        "create": Perm.TAPER_DRAFT,
        "transitions": Perm.TAPER_VIEW,
        # The route's floor; each action's own permission (TRANSITION_PERMS) is checked in `transition`.
        "transition": Perm.TAPER_DRAFT,
    }

    def refine_queryset(self, queryset):
        return queryset.select_related(
            "current_version", "current_version__created_by", "current_version__approved_by"
        ).select_related("created_by", "approved_by")

    def _fresh(self, plan: TaperPlan) -> TaperPlan:
        return self.refine_queryset(TaperPlan.objects.all()).get(pk=plan.pk)

    @extend_schema(
        request=TaperPlanCreateSerializer,
        responses={201: TaperPlanSerializer},
        summary="Create a draft plan (the schedule is computed and stored as version 1)",
    )
    def create(self, request, *args, **kwargs) -> Response:
        body = TaperPlanCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        patient = resolve_in_clinic(Patient, data.pop("patient"), "patient")
        reason = data.pop("reason")
        if not data.get("table"):
            data["table"] = services.taper_settings().default_table
        data["regimen"] = [dict(line) for line in data["regimen"]]
        data["holds"] = [dict(h) for h in data["holds"]]
        # A refusal raises Django's ValidationError; api/errors.py answers it as a 400 problem with fields.
        plan = services.plan_create(
            actor=request.user, patient=patient, data=services.PlanInput(**data), reason=reason
        )
        return Response(TaperPlanSerializer(self._fresh(plan)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses=TaperPlanTransitionsSerializer, summary="The actions this plan's status allows, and who may"
    )
    @action(detail=True, methods=["get"], url_path="transition")
    def transitions(self, request, pk=None, **kwargs) -> Response:
        plan = self.get_object()
        actions = [
            {
                "action": name,
                "description": TRANSITION_HELP[name],
                "permission": TRANSITION_PERMS[name].value,
                "allowed_for_you": as_actor(request.user).allows(TRANSITION_PERMS[name]),
                "fields": TRANSITION_FIELDS[name],
            }
            for name in _allowed_from(plan)
        ]
        return Response({"status": plan.status, "held_since": plan.held_since, "actions": actions})

    @extend_schema(
        request=TaperPlanTransitionSerializer,
        responses={
            200: TaperPlanSerializer,
            400: OpenApiResponse(description="Refused: the problem's `errors` say why (nothing is changed)."),
            403: OpenApiResponse(
                description="Your role may not take this action (e.g. approve: psychiatrist)."
            ),
        },
        summary="Take a plan action: propose, approve, activate, hold, resume, slow or close",
        description="\n".join(
            f"* `{name}` ({TRANSITION_PERMS[name].value}): {TRANSITION_HELP[name]} Fields: "
            + (", ".join(f"`{f}`" for f in TRANSITION_FIELDS[name]) or "none")
            for name in TRANSITION_PERMS
        ),
    )
    @transitions.mapping.post
    def transition(self, request, pk=None, **kwargs) -> Response:
        plan = self.get_object()  # 404 for another clinic's plan before the body is read
        body = TaperPlanTransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        name = data["action"]
        if not as_actor(request.user).allows(TRANSITION_PERMS[name]):
            raise exceptions.PermissionDenied(
                f"Your role may not {name} a taper plan ({TRANSITION_PERMS[name].value} is needed)."
            )
        if name == "activate" and plan.status == S.ACTIVE:
            return Response(TaperPlanSerializer(self._fresh(plan)).data)  # already active: nothing to do
        self._take(name, plan, data)
        return Response(TaperPlanSerializer(self._fresh(plan)).data)

    def _take(self, name: str, plan: TaperPlan, data: dict) -> None:
        actor = self.request.user
        day = data.get("from_date") or clinic_today()
        if name == "propose":
            services.plan_propose(actor=actor, plan=plan)
        elif name == "approve":
            services.plan_approve(
                actor=actor, plan=plan, note=data["note"], warnings_seen=data["warnings_seen"]
            )
        elif name == "activate":
            services.plan_activate(actor=actor, plan=plan)
        elif name == "hold":
            services.plan_hold(
                actor=actor, plan=plan, from_date=day, days=data["days"], reason=data["reason"]
            )
        elif name == "resume":
            services.plan_resume(
                actor=actor,
                plan=plan,
                from_date=day,
                reason=data["reason"],
                rate_percent=data.get("rate_percent"),
                interval_days=data.get("interval_days"),
            )
        elif name == "slow":
            missing = {
                f: ["Required to change the pace."]
                for f in ("rate_percent", "interval_days")
                if not data.get(f)
            }
            if missing:
                raise serializers.ValidationError(missing)
            services.plan_slow(
                actor=actor,
                plan=plan,
                from_date=day,
                reason=data["reason"],
                rate_percent=data["rate_percent"],
                interval_days=data["interval_days"],
            )
        elif name == "close":
            if not data.get("outcome"):
                raise serializers.ValidationError({"outcome": ["Choose completed or stopped."]})
            services.plan_close(actor=actor, plan=plan, outcome=data["outcome"], reason=data["reason"])


# --- versions, steps and doses ------------------------------------------------------------------------------
class VersionFilter(django_filters.FilterSet):
    plan = django_filters.UUIDFilter(field_name="plan_id")
    patient = django_filters.UUIDFilter(field_name="patient_id")

    class Meta:
        model = TaperPlanVersion
        fields: tuple = ()


class TaperVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _TaperViewSet):
    """Every version of every plan, newest first; old versions stay readable exactly as they were."""

    model = TaperPlanVersion
    serializer_class = TaperVersionSerializer
    filterset_class = VersionFilter
    action_perms = {"list": Perm.TAPER_VIEW, "retrieve": Perm.TAPER_VIEW}

    def refine_queryset(self, queryset):
        return queryset.select_related("created_by", "approved_by")


class StepFilter(django_filters.FilterSet):
    version = django_filters.UUIDFilter(field_name="version_id")
    plan = django_filters.UUIDFilter(method="filter_plan", label="The steps of this plan's current version.")
    patient = django_filters.UUIDFilter(field_name="patient_id")

    class Meta:
        model = TaperStep
        fields: tuple = ()

    def filter_plan(self, queryset, name, value):
        current = TaperPlan.objects.filter(pk=OuterRef("plan_id")).values("current_version_id")[:1]
        return queryset.filter(plan_id=value, version_id=Subquery(current))


class StepPagination(StableCursorPagination):
    """Steps in the order they were made: index order within a version."""

    ordering = ("created_at", "id")


class TaperStepViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _TaperViewSet):
    model = TaperStep
    serializer_class = TaperStepSerializer
    filterset_class = StepFilter
    pagination_class = StepPagination
    action_perms = {"list": Perm.TAPER_VIEW, "retrieve": Perm.TAPER_VIEW}


class DoseRecordSerializer(serializers.ModelSerializer):
    plan = serializers.UUIDField(source="plan_id", read_only=True)
    patient = serializers.UUIDField(source="patient_id", read_only=True)
    mg_by_drug = serializers.DictField(child=serializers.CharField(), read_only=True)
    recorded_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)

    class Meta:
        model = DoseRecord
        fields = (
            "id",
            "plan",
            "patient",
            "day",
            "mg_by_drug",
            "de_mg",
            "planned_de_mg",
            "as_planned",
            "source",
            "recorded_by",
            "note",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class DoseRecordCreateSerializer(serializers.Serializer):
    """What the patient took on one day: `as_planned: true`, or the mg of each drug. A later record for the
    same plan and day replaces the earlier one (200)."""

    plan = serializers.UUIDField()
    day = serializers.DateField()
    as_planned = serializers.BooleanField(required=False, allow_null=True, default=None)
    mg_by_drug = serializers.DictField(
        child=serializers.DecimalField(max_digits=9, decimal_places=3),
        required=False,
        allow_null=True,
        default=None,
        help_text='Total mg taken that day by drug, e.g. {"diazepam": "7.5"}.',
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DoseRecordFilter(django_filters.FilterSet):
    plan = django_filters.UUIDFilter(field_name="plan_id")
    patient = django_filters.UUIDFilter(field_name="patient_id")
    since = django_filters.DateFilter(field_name="day", lookup_expr="gte")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = DoseRecord
        fields: tuple = ()


class DoseRecordViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _TaperViewSet):
    model = DoseRecord
    serializer_class = DoseRecordSerializer
    filterset_class = DoseRecordFilter
    action_perms = {
        "list": Perm.TAPER_VIEW,
        "retrieve": Perm.TAPER_VIEW,
        "create": Perm.TAPER_RECORD_DOSE,
    }

    def refine_queryset(self, queryset):
        return queryset.select_related("recorded_by")

    @extend_schema(
        request=DoseRecordCreateSerializer,
        responses={201: DoseRecordSerializer, 200: DoseRecordSerializer},
        summary="Record what the patient took on a day (source: api)",
    )
    def create(self, request, *args, **kwargs) -> Response:
        body = DoseRecordCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        plan = resolve_in_clinic(TaperPlan, data["plan"], "plan")
        existed = DoseRecord.objects.filter(plan=plan, day=data["day"]).exists()
        record = services.dose_record(
            actor=request.user,
            plan=plan,
            day=data["day"],
            source=DoseRecord.Source.API,
            as_planned=data["as_planned"],
            mg_by_drug=data["mg_by_drug"],
            note=data["note"],
        )
        record = self.refine_queryset(DoseRecord.objects.all()).get(pk=record.pk)
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(DoseRecordSerializer(record).data, status=code)
