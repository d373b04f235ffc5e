from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def queue(request):
    return HttpResponse("queue")


def register(request):
    return HttpResponse("")


def detail(request, reference):
    return HttpResponse("")


def act(request, reference, action):
    return HttpResponse("")
