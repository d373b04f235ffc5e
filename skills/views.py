"""The person's own account pages: API tokens."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from skills.models import ApiToken
from skills.selectors import tokens_of
from skills.services import token_issue, token_revoke


class TokenIssueForm(forms.Form):
    name = forms.CharField(
        max_length=100, required=False, help_text="What it is for, e.g. “monitoring bridge”."
    )
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ)


@never_cache
@login_required
def tokens(request):
    """List the person's tokens; a POST issues one, shown in this response and never again."""
    person = request.user
    form = TokenIssueForm(request.POST if request.method == "POST" else None)
    issued = raw = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            issued, raw = token_issue(person=person, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"])
            form = TokenIssueForm()
        else:
            status = 400
    context = {
        "form": form,
        "tokens": tokens_of(person),
        "issued": issued,
        "raw_token": raw,
    }
    return render(request, "skills/tokens.html", context, status=status)


@login_required
@require_POST
def token_revoke_view(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, person=request.user)
    token_revoke(token=token)
    messages.success(request, f"Token {token.hint}… revoked. Requests using it now get 401.")
    return redirect("skills:tokens")


class LoginView(auth_views.LoginView):
    """Django's login, plus the demo-password hint in embedded (DEBUG) mode. People
    without an SFIA level (reporters, stakeholders) land on their own pages."""

    def get_default_redirect_url(self):
        from django.shortcuts import resolve_url

        from skills.policy import level_of

        if level_of(self.request.user) is None and not self.next_page:
            return resolve_url(settings.REQUESTER_HOME_URL)
        return super().get_default_redirect_url()

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "show_demo_hint": settings.DEBUG}
