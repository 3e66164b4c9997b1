#!/usr/bin/env python3
"""Writes corpus.toml, the apology coach's labelled corpus, from the hand-written phrases below.

Every phrase here was written for this corpus; nothing is copied from a published text. A
text is composed from a scenario's phrases (who did what to whom, in the voice its scope
needs) and, for a non-apology, one of the family's templates with the scenario's fillers.
The composition is random but seeded, so the output is the same on every run:

    python3 crates/core/coach-corpus/generate.py > crates/core/coach-corpus/corpus.toml

Spans are byte offsets into the text (UTF-8), with the quoted words beside them; the core's
tests check that each quote is the text between its offsets.
"""

import json
import random

from handwritten import PROV as HANDWRITTEN_PROV
from handwritten import PROV_2 as HANDWRITTEN_PROV_2
from handwritten import TEXTS as HANDWRITTEN
from handwritten import TEXTS_2 as HANDWRITTEN_2

PROVENANCE_GENUINE = (
    "written for the corpus: hand-written phrases for this scenario, combined by generate.py"
)
PROVENANCE_NON = (
    "written for the corpus: a hand-written template of this family with the scenario's "
    "fillers, combined by generate.py"
)

# --------------------------------------------------------------------------------------------
# Scenarios. Each has a scope, a kind of breach (Kim et al. 2004: competence or integrity),
# a voice, and phrases for each component. Phrases are clauses without the final full stop.
# `thing` and `event` are fillers for the non-apology templates.
# --------------------------------------------------------------------------------------------

SCENARIOS = [
    dict(
        key="pp-figures", scope="person_person", breach="competence", voice="i",
        greet=["Hi Sam,", "Sam,", ""],
        thing=["the delay with the budget figures", "the late delivery", "the budget spreadsheet"],
        event="the figures arriving late",
        act=["I missed the Friday deadline for the budget figures",
             "I didn't send you the budget figures I promised for Friday",
             "the late figures are on me",
             "I dropped the ball on the budget figures"],
        act_sorry=["missing the Friday deadline for the budget figures",
                   "not sending the figures when I said I would"],
        impact=["you had to stay until nine on Thursday rebuilding the numbers yourself",
                "it left you walking into the board meeting with nothing to show",
                "you spent your weekend checking my spreadsheet line by line",
                "you had to explain the gap to the finance director on your own"],
        explain=["I had double-booked myself and didn't check the calendar",
                 "I underestimated how long the reconciliation would take",
                 "this happened because I kept saying yes to other requests"],
        fix=["I will send the corrected figures by noon on Thursday",
             "from Monday, I'll put every date I give you in the shared calendar",
             "I'm going to walk you through the numbers on Wednesday so nothing is a surprise"],
        fixed=["I have already asked finance to re-run the export",
               "I've booked an hour with you on Wednesday to go through the numbers",
               "I've already sent the finance director the corrected sheet with a note that the delay was mine"],
    ),
    dict(
        key="pp-credit", scope="person_person", breach="integrity", voice="i",
        greet=["Priya,", "Hi Priya,", ""],
        thing=["the review meeting", "how the analysis was presented", "what happened in the review"],
        event="the review meeting",
        act=["I presented your churn analysis as if it were mine",
             "I took credit for your analysis in the quarterly review",
             "I let the directors believe the churn model was my work",
             "I didn't mention your name once when I showed your work"],
        act_sorry=["taking credit for your analysis in the review",
                   "presenting your work as mine"],
        impact=["it left you feeling that your work and your views did not count",
                "you watched someone else get thanked for three weeks of your evenings",
                "the directors still don't know who built the model, and that has cost you",
                "you lost the chance to be seen for work you did"],
        explain=["I wanted to look prepared, and I chose my own image over being fair to you",
                 "I told myself there was no time to explain who did what, which was not true"],
        fix=["I will write to the directors today and say plainly that the model is yours",
             "I'll make sure you present the follow-up yourself next month",
             "from now on I will name who did the work on every slide I show"],
        fixed=["I have already emailed the directors to correct the record",
               "I've asked for your name to be added to the review minutes",
               "I have spoken to our director and told her the analysis was yours"],
    ),
    dict(
        key="pp-interrupt", scope="person_person", breach="integrity", voice="i",
        greet=["Tom,", "Hi Tom,", ""],
        thing=["the stand-up", "what I said on Tuesday", "my comment in the meeting"],
        event="the stand-up",
        act=["I talked over you three times in Tuesday's stand-up",
             "I dismissed your idea in front of the whole team",
             "I was rude to you in the design review",
             "I cut you off before you had finished, and I did it more than once"],
        act_sorry=["cutting you off in the stand-up", "dismissing your proposal in front of everyone"],
        impact=["you stopped speaking up in meetings after that",
                "it made you look unprepared in front of people you work with every day",
                "you went quiet for the rest of the week, and I understand why",
                "it told everyone in the room that your view didn't matter"],
        explain=["I was stressed about the release and took it out on you",
                 "I had already decided, and I didn't listen"],
        fix=["I will let you finish, and I'll ask for your view first in our next review",
             "I'm going to ask you to lead the next design discussion, and I will hold back",
             "in our meetings from now on, I'll wait until you have finished before I reply"],
        fixed=["I have already told the team that your proposal deserves a proper hearing",
               "I've put your proposal back on Thursday's agenda"],
    ),
    dict(
        key="pp-one-to-one", scope="person_person", breach="competence", voice="i",
        greet=["Aisha,", "Hi Aisha,", ""],
        thing=["the cancelled one-to-one", "the rescheduling", "the missed meeting"],
        event="our one-to-ones",
        act=["I cancelled our one-to-one three weeks running",
             "I kept moving our meetings and never told you why",
             "I forgot our one-to-one again on Monday",
             "I failed to show up for the career conversation we had planned"],
        act_sorry=["cancelling our one-to-ones", "forgetting our meeting on Monday"],
        impact=["you have had no time with me for a month, just when you needed it",
                "your promotion case has been sitting without feedback since October",
                "you waited in the room for twenty minutes on your own",
                "it left you unsure whether your development matters to me"],
        explain=["I let other meetings push ours aside because it felt movable",
                 "I didn't protect the time, and that was my choice"],
        fix=["I will keep Thursday at ten for you, and I won't move it for anything short of an emergency",
             "I'll read your promotion case this week and give you written feedback by Friday",
             "I'm going to block our hour in my calendar as fixed"],
        fixed=["I have already blocked Thursdays at ten in my calendar for you",
               "I've read your promotion case and sent you my notes this morning"],
    ),
    dict(
        key="pp-confidence", scope="person_person", breach="integrity", voice="i",
        greet=["Dan,", "Hi Dan,", ""],
        thing=["the conversation at lunch", "what got passed on", "the rumour"],
        event="what I passed on",
        act=["I repeated what you told me in confidence about your health",
             "I broke your trust by telling others what you had shared with me",
             "I shared your private news with the team before you were ready",
             "I went back on my word to keep it between us"],
        act_sorry=["telling others what you told me in confidence", "breaking your confidence"],
        impact=["you had to answer questions about your health that you never wanted to discuss",
                "it took away your choice of when and how to tell people",
                "you now have to wonder what else I have passed on",
                "colleagues treated you differently all week because of me"],
        explain=["I thought I was helping by explaining your absences, and I did not ask you first"],
        fix=["I will tell the two people I spoke to that it was not mine to share",
             "I won't discuss you with anyone without asking you, and you can hold me to that",
             "I'll ask you before I say anything about your absence to anyone"],
        fixed=["I have already asked the two people I told to keep it to themselves",
               "I've spoken to both of them and made clear the mistake was mine"],
    ),
    dict(
        key="lt-reorg", scope="leader_team", breach="integrity", voice="leader",
        greet=["Team,", "Hi all,", "Everyone,", ""],
        thing=["the timing of the announcement", "the reorganisation announcement", "how the news came out"],
        event="the reorganisation announcement",
        act=["I announced the reorganisation without consulting any of you first",
             "I let you hear about the new structure from an all-company email instead of from me",
             "I made the decision about the team split without asking the people it affects",
             "I kept the reorganisation from you for two weeks after I knew"],
        act_sorry=["announcing the reorganisation without talking to you first",
                   "keeping the new structure from you"],
        impact=["it left many of you feeling that your work and your views did not count",
                "several of you learned about your new manager from a slide",
                "some of you spent the weekend worrying about your jobs",
                "you had to answer questions from your own teams that you had no answers to"],
        explain=["I was told to keep it quiet and I chose not to push back",
                 "I assumed the structure was a detail, and I was wrong about what it means to you"],
        fix=["I will hold open sessions this week where you can ask me anything about the change",
             "I'll meet each of you one to one before the end of the month",
             "we will review the new structure together in six weeks, and I will change what does not work"],
        fixed=["I have already booked a session with each of you for this week",
               "I've asked HR to pause the move until you have had your say",
               "I have already put the draft structure on the team wiki so you can comment on it"],
    ),
    dict(
        key="lt-rota", scope="leader_team", breach="competence", voice="leader",
        greet=["Team,", "Hi everyone,", ""],
        thing=["the rota", "the weekend cover", "the scheduling problem"],
        event="the December rota",
        act=["I got the December rota wrong",
             "I published a rota that left two weekends without enough cover",
             "the rota mistake was mine, and nobody else's",
             "I approved the holiday requests without checking the cover"],
        act_sorry=["getting the rota wrong", "publishing a rota that did not add up"],
        impact=["several of you worked three weekends in a row",
                "you had to cancel plans with your families at a day's notice",
                "the people on call carried twice the pager load for a fortnight",
                "it meant some of you missed the school holidays you had booked months ago"],
        explain=["I built the rota from last year's template and didn't check the new starters' dates",
                 "I rushed it on the last day before my leave"],
        fix=["I will pay the extra weekends as overtime, and the hours will show in this month's pay",
             "from January, two of you will check the rota with me before it is published",
             "I'm going to give everyone who worked an extra weekend a day back in January"],
        fixed=["I have already arranged cover from the other site for the last weekend",
               "I've added the overtime to this month's payroll",
               "I have rebuilt the January rota with the new starters in it and shared it for checking"],
    ),
    dict(
        key="lt-training", scope="leader_team", breach="integrity", voice="leader",
        greet=["Hi all,", "Team,", ""],
        thing=["the training budget", "the change to the budget", "what happened with the training money"],
        event="the training budget",
        act=["I promised you the training budget and then spent it on contractors without telling you",
             "I broke my promise about the training budget",
             "I told you the courses were safe when I already knew the money was going",
             "I went back on what I said in March about training"],
        act_sorry=["breaking my promise about the training budget", "telling you the courses were safe"],
        impact=["three of you had already booked courses and had to cancel them",
                "you planned your year around something I took away",
                "it has made it hard for you to believe what I say in our planning meetings",
                "people who had waited a year for the certification are waiting again"],
        explain=["I was afraid of the conversation, so I put it off"],
        fix=["I will restore the training budget from next quarter, and I'll publish the figure",
             "I'm going to show you the budget each month so you can see where the money goes",
             "I will fund the three cancelled courses from my own department's budget"],
        fixed=["I have already moved the money back for the three cancelled courses",
               "I've put the budget on the shared drive, where you can see every line"],
    ),
    dict(
        key="lt-allhands", scope="leader_team", breach="integrity", voice="leader",
        greet=["Everyone,", "Team,", ""],
        thing=["the all-hands", "my answer in the all-hands", "the Q&A"],
        event="the all-hands",
        act=["I brushed off your concerns about workload in the all-hands",
             "I laughed off the question about burnout when it deserved a real answer",
             "I was dismissive when you raised the staffing numbers",
             "I told you to be more resilient when you told me you were exhausted"],
        act_sorry=["brushing off your concerns in the all-hands", "laughing off the question about burnout"],
        impact=["people who had found the courage to speak up were made to look weak",
                "several of you told me afterwards that you will not raise anything again",
                "it left the team feeling that nobody above them is listening",
                "you went back to your desks with the same workload and less hope"],
        explain=["I was defensive because the numbers reflect on my planning"],
        fix=["I will come back to the next all-hands with the staffing figures and a plan",
             "I'll run a workload review with each squad before the end of the month",
             "we will hire the two roles I had frozen, and I'll tell you the dates"],
        fixed=["I have already unfrozen the two open roles",
               "I've set up an anonymous workload survey, which closes on Friday"],
    ),
    dict(
        key="lt-hiring", scope="leader_team", breach="competence", voice="leader",
        greet=["Team,", "Hi all,", ""],
        thing=["the hiring delay", "the staffing gap", "the slow hiring"],
        event="the hiring delay",
        act=["I let the hiring for the two open roles stall for three months",
             "I didn't push the job adverts through when I said I would",
             "the staffing gap is my doing",
             "I failed to follow up with recruitment, and the roles sat unfilled"],
        act_sorry=["letting the hiring stall", "not following up with recruitment"],
        impact=["you covered two people's work all summer",
                "several of you worked late most evenings to keep the service running",
                "the support queue grew, and you took the angry calls",
                "it meant you could not take the leave you had earned"],
        explain=["I underestimated how long approvals take and didn't chase them"],
        fix=["I will review the hiring pipeline with you every Monday until both roles are filled",
             "I'll bring in a contractor for the queue from next week",
             "I'm going to give each of you two extra days of leave this year"],
        fixed=["I have already signed off a contractor to start next week",
               "I've put both adverts live this morning"],
    ),
    dict(
        key="tt-api", scope="team_team", breach="competence", voice="we",
        greet=["To the mobile team,", "Hi mobile team,", ""],
        thing=["the API change", "the breaking release", "Tuesday's release"],
        event="Tuesday's release",
        act=["we shipped a breaking change to the payments API without telling your team",
             "our team removed the old endpoint without any warning",
             "we broke the contract we had agreed with you for the payments API",
             "the breaking change is on us"],
        act_sorry=["shipping a breaking change without telling you", "removing the endpoint with no warning"],
        impact=["your app crashed at checkout for six hours",
                "your on-call engineer was woken at three in the morning",
                "your team spent two days rolling back instead of building",
                "your customers could not pay, and your support team took the complaints"],
        explain=["we skipped the contract tests because the release was late",
                 "we assumed no one still used the old endpoint and did not check the logs"],
        fix=["we will add your app's contract tests to our pipeline this sprint",
             "our team will give you two weeks' notice of any change to the API from now on",
             "we'll join your retro on Thursday and answer every question"],
        fixed=["we have already restored the old endpoint",
               "we've added your contract tests to our build, and they now block a release",
               "our team has already sent your on-call engineer the full timeline"],
    ),
    dict(
        key="tt-handover", scope="team_team", breach="competence", voice="we",
        greet=["To the night shift,", "Night team,", ""],
        thing=["the handover", "Friday's handover", "the missing notes"],
        event="the handover",
        act=["we missed the handover to the night shift on Friday",
             "our team didn't pass on the notes about the failing pump",
             "we left you without the handover you needed",
             "we forgot to flag the open incident when we left"],
        act_sorry=["missing Friday's handover", "not passing on the notes about the pump"],
        impact=["you found out about the failing pump at two in the morning",
                "your shift spent four hours tracing a fault we already knew about",
                "one of your engineers worked alone on an incident we should have told you about",
                "it put your team in a dangerous position"],
        explain=["we were short-staffed and let the handover slide",
                 "this happened because our handover checklist had no owner"],
        fix=["we will do the handover face to face from now on, with a written checklist",
             "our team will name one person to own the handover each day",
             "we're going to review every handover with you for the next month"],
        fixed=["we have already put a checklist at the control desk",
               "we've named an owner for the handover on every shift"],
    ),
    dict(
        key="tt-blame", scope="team_team", breach="integrity", voice="we",
        greet=["To the data team,", "Data team,", ""],
        thing=["what the client was told", "the call with the client", "the client update"],
        event="the client call",
        act=["we told the client the outage was your team's fault when it was ours",
             "our team let the client believe your pipeline had caused the outage",
             "we blamed your team to protect ourselves",
             "we misled the client about who caused the outage"],
        act_sorry=["blaming your team for our outage", "misleading the client about the cause"],
        impact=["the client now doubts your team's work",
                "your lead had to defend your team in a meeting she should never have been in",
                "it undermined your team with a client you had served well for years",
                "you took the heat for something you had no part in"],
        explain=["we panicked on the call and chose the easy story"],
        fix=["we will write to the client this week and correct the record",
             "our team will share every incident report with you before it goes to a client",
             "we'll ask the client to meet both teams together"],
        fixed=["we have already written to the client to correct what we said",
               "we've spoken to your lead and to the account manager"],
    ),
    dict(
        key="tt-budget", scope="team_team", breach="integrity", voice="we",
        greet=["To the research team,", "Research team,", ""],
        thing=["the shared budget", "the lab booking", "the budget decision"],
        event="the budget decision",
        act=["we went back on our agreement to split the lab time fairly",
             "our team took the whole of the lab booking for March without asking you",
             "we broke the agreement we made with you in January",
             "we kept the budget change from you until it was too late to object"],
        act_sorry=["going back on our agreement", "taking the lab time without asking"],
        impact=["your experiments were pushed back by a month",
                "your students lost the slots they needed for their theses",
                "it cost your team a grant deadline",
                "you had to tell your funders that the work would be late"],
        explain=["we put our own deadline first and did not think about yours"],
        fix=["we will give you the first two weeks of April in the lab",
             "our team will agree every booking change with you in writing",
             "we're going to share the booking calendar with your team"],
        fixed=["we have already released the April slots to your team",
               "we've moved our own runs to the weekend"],
    ),
]

VOICE = {
    "i": dict(
        sorry=["I'm sorry", "I am truly sorry", "I apologise", "I owe you an apology",
               "I'm really sorry", "I apologize", "I want to apologise"],
        sorry_for=["I'm sorry for", "I apologise for", "I am sorry for"],
        repent=["it won't happen again", "I will make sure this never happens again",
                "I won't let this happen again", "I have learned from this, and it will not happen again"],
        forgive=["I hope you can forgive me", "please forgive me",
                 "I hope, in time, you can forgive me"],
    ),
    "leader": dict(
        sorry=["I'm sorry", "I am sorry", "I apologise to all of you", "I owe every one of you an apology",
               "I want to apologise to the team", "I am truly sorry"],
        sorry_for=["I'm sorry for", "I apologise for"],
        repent=["it won't happen again", "I will make sure this does not happen again",
                "I won't do this to you again", "this will not be repeated"],
        forgive=["I hope you can forgive me", "I hope that, in time, you can forgive me"],
    ),
    "we": dict(
        sorry=["We're sorry", "We are sorry", "Our team apologises", "We apologise",
               "We owe you an apology", "We are truly sorry"],
        sorry_for=["We're sorry for", "We apologise for"],
        repent=["it won't happen again", "we won't let this happen again",
                "we will make sure this never happens again"],
        forgive=["we hope you can forgive us", "please forgive us"],
    ),
}

# --------------------------------------------------------------------------------------------
# Non-apology families. A template is a string with {thing}, {event}, {act} and {sorry}
# fillers. The part of the text that makes it a non-apology is not labelled with a span:
# the label is the family. Components genuinely present are labelled (a responsibility
# clause can stand inside a non-apology).
# --------------------------------------------------------------------------------------------

FAMILIES = {
    "conditional": [
        "I'm sorry if {thing} caused you any stress.",
        "If {thing} caused stress, sorry.",
        "If anyone was upset by {thing}, I apologise.",
        "To the extent that {thing} made things harder, I regret it.",
        "Apologies if {thing} came across badly.",
        "If {thing} caused you a problem, then I'm sorry.",
        "Should {thing} have caused any trouble, please accept my apologies.",
        "I apologise to the extent that {thing} was disruptive.",
        "If {thing} affected your plans, sorry about that.",
        "Sorry if {thing} left anyone feeling out of the loop.",
        "I'm sorry if anyone felt let down by {thing}.",
        "If people were hurt by {thing}, we regret that.",
        "In so far as {thing} caused problems, we apologise.",
    ],
    "feelings-not-actions": [
        "I'm sorry you feel that way about {thing}.",
        "I'm sorry that you were upset by {thing}.",
        "Sorry you felt left out of {event}.",
        "I'm sorry that you took {thing} so personally.",
        "I regret that you feel {thing} was unfair.",
        "I'm sorry you're frustrated about {thing}.",
        "I'm sorry that you feel you weren't listened to.",
        "I'm sorry for how you received {thing}.",
        "We're sorry that your team sees {thing} that way.",
        "I'm sorry that {thing} upset you so much.",
        "I'm sorry you were disappointed by {thing}.",
        "Sorry that you feel so strongly about {thing}.",
    ],
    "agentless-passive": [
        "Mistakes were made with {thing}.",
        "The timing of the announcement was not ideal.",
        "{Thing} could have been handled better.",
        "Things fell through the cracks around {event}.",
        "It is unfortunate that {thing} happened the way it did.",
        "Regrettably, errors were made in {thing}.",
        "{Thing} did not go as planned.",
        "Communication broke down around {event}.",
        "{Thing} was less than ideal.",
        "Some things were missed with {thing}.",
        "There were failures in {thing}, and lessons have been learned.",
        "The ball was dropped on {thing}.",
    ],
    "minimising": [
        "It was only a minor slip, I'm not sure why people are upset.",
        "Sorry for the small hiccup with {thing}.",
        "Honestly, {thing} was a tiny thing and people are overreacting.",
        "I think {thing} has been blown out of proportion.",
        "Let's not make a mountain out of a molehill over {thing}.",
        "Sorry for any inconvenience {thing} may have caused.",
        "{Thing} is hardly the end of the world.",
        "It was just a couple of days, so I don't see what the fuss is about.",
        "I'm sorry, it was only a bit of a mix-up with {thing}.",
        "No real harm was done by {thing}, so I'm surprised by the reaction.",
        "It was a small thing, and I'm sorry it's become such a big deal.",
        "I know {thing} wasn't perfect, but it's not a big deal.",
    ],
    "blame-shifting": [
        "Sorry this wasn't clear to you.",
        "You should have told me {thing} mattered so much.",
        "If you had read the email properly, you would have known about {thing}.",
        "I'm sorry you misunderstood {thing}.",
        "Had your team flagged it earlier, we could have avoided {thing}.",
        "I'm sorry you didn't check the details before raising {thing}.",
        "Nobody on your side asked about {thing}, so we went ahead.",
        "Next time, maybe you could ask before assuming the worst about {thing}.",
        "Sorry that the plan wasn't clear enough for you.",
        "You left us no choice with {thing}.",
        "I'm sorry you missed the email that explained {thing}.",
        "Frankly, you made {thing} harder than it needed to be.",
    ],
    "hedged-audience": [
        "Apologies to all concerned about {thing}.",
        "I apologise to anyone who may have been affected by {thing}.",
        "Our apologies to whoever was inconvenienced by {thing}.",
        "Sorry to everyone who might have been put out by {thing}.",
        "We regret any impact {thing} had on those involved.",
        "To anyone who feels let down by {thing}, sorry.",
        "My apologies to those who were affected, if any.",
        "A general apology to all parties regarding {thing}.",
        "Sorry to anybody who was caught up in {thing}.",
        "I'd like to apologise to whoever this may concern.",
        "We extend our apologies to all those involved in {event}.",
        "Apologies all round for {thing}.",
    ],
    "sorry-but": [
        "I'm sorry about {thing}, but the brief kept changing.",
        "I apologise for {thing}, but we were badly understaffed.",
        "Sorry about {thing}, though to be fair I had three other deadlines.",
        "I regret {thing}, but someone had to say it.",
        "We're sorry about {thing}. That said, the client changed the spec twice.",
        "I'm sorry. But you have to understand how much was on my plate during {event}.",
        "Apologies for {thing}; in my defence, nobody had the full picture.",
        "I'm sorry for {thing}, although it was a very busy month.",
        "Sorry about {thing}, but it's the same for everyone right now.",
        "I apologise for {thing}. However, the targets came from above.",
        "We are sorry for {thing}, but our hands were tied.",
        "I'm sorry about {thing}, but I was only following the process.",
    ],
    "demands-forgiveness": [
        "{Sorry} about {thing}, and now I expect everyone to move on.",
        "I've apologised already, so can we put {thing} behind us?",
        "I said sorry for {thing}; I need you to let it go now.",
        "I'm sorry about {thing}, and I trust that's the end of it.",
        "You have to forgive me for {thing}; it's been a week.",
        "I've apologised twice for {thing}, and I don't know what more you want.",
        "Sorry for {thing}. Let's draw a line under it and get back to work.",
        "{Sorry}. Now I need everyone to move on from {thing}.",
        "I apologised for {thing} on Monday, so I'd expect you to be over it by now.",
        "We've said sorry for {thing}, and we'd like your team to drop it now.",
        "I'm sorry about {thing}, so let's just forget it ever happened.",
        "I've said I'm sorry; can we stop talking about {thing}?",
    ],
    "intent-over-impact": [
        "It was never my intention to upset anyone with {thing}.",
        "I didn't mean any harm with {thing}.",
        "No offence was intended by {thing}.",
        "We meant well with {thing}.",
        "I was only trying to help with {thing}.",
    ],
    "vague": [
        "I'm sorry for whatever I did.",
        "We apologise for everything that happened around {event}.",
        "Sorry about what happened.",
        "I regret anything I may have said.",
        "I'm sorry for the whole situation.",
    ],
}


def cap(s):
    return s[:1].upper() + s[1:] if s else s


class Builder:
    """Appends pieces of text and remembers the byte spans of labelled ones."""

    def __init__(self):
        self.text = ""
        self.spans = []

    def add(self, piece, label=None):
        if label and piece:
            start = len(self.text.encode("utf-8"))
            self.text += piece
            end = len(self.text.encode("utf-8"))
            self.spans.append((label, start, end, piece))
        else:
            self.text += piece

    def space(self):
        if self.text and not self.text.endswith((" ", "\n")):
            self.text += " "


def genuine(rng, sc, n):
    v = VOICE[sc["voice"]]
    b = Builder()
    greet = rng.choice(sc["greet"])
    if greet:
        b.add(greet + "\n\n")
    has = dict(
        responsibility=rng.random() < 0.93,
        regret=rng.random() < 0.85,
        impact=rng.random() < 0.8,
        repair=rng.random() < 0.85,
        explanation=rng.random() < 0.4,
        repentance=rng.random() < 0.4,
        forgiveness=rng.random() < 0.15,
    )
    if not any(has[k] for k in ("responsibility", "repair", "impact")):
        has["responsibility"] = True
    # Opening: regret and responsibility, in one of several shapes.
    shape = rng.randrange(4)
    if has["regret"] and has["responsibility"] and shape == 0:
        b.add(cap(rng.choice(v["sorry_for"])), "regret")
        b.add(" ")
        b.add(rng.choice(sc["act_sorry"]), "responsibility")
        b.add(".")
    elif has["regret"] and has["responsibility"] and shape == 1:
        b.add(rng.choice(v["sorry"]), "regret")
        b.add(": ")
        b.add(rng.choice(sc["act"]), "responsibility")
        b.add(".")
    elif has["regret"] and has["responsibility"] and shape == 2:
        b.add(cap(rng.choice(sc["act"])), "responsibility")
        b.add(". ")
        b.add(rng.choice(v["sorry"]), "regret")
        b.add(".")
    else:
        if has["regret"]:
            b.add(rng.choice(v["sorry"]), "regret")
            b.add(".")
        if has["responsibility"]:
            b.space()
            b.add(cap(rng.choice(sc["act"])), "responsibility")
            b.add(".")
    if has["explanation"]:
        b.space()
        b.add(cap(rng.choice(sc["explain"])), "explanation")
        b.add(rng.choice([".", ", and that is no excuse."]))
    if has["impact"]:
        b.space()
        lead = rng.choice(["", "I know that ", "Because of this, ", "", "I understand that "])
        if sc["voice"] == "we" and lead.startswith("I "):
            lead = "We know that "
        piece = rng.choice(sc["impact"])
        b.add(lead)
        b.add(cap(piece) if not lead else piece, "impact")
        b.add(".")
    if has["repair"]:
        b.space()
        done = rng.random() < 0.5
        piece = rng.choice(sc["fixed"] if done else sc["fix"])
        b.add(cap(piece), "repair")
        b.add(".")
    if has["repentance"]:
        b.space()
        b.add(cap(rng.choice(v["repent"])), "repentance")
        b.add(".")
    if has["forgiveness"]:
        b.space()
        b.add(cap(rng.choice(v["forgive"])), "forgiveness")
        b.add(".")
    return record(f"{sc['key']}-g{n:02}", b, "none", sc, PROVENANCE_GENUINE)


def non_apology(rng, sc, family, template, n):
    v = VOICE[sc["voice"]]
    b = Builder()
    greet = rng.choice(sc["greet"])
    if greet:
        b.add(greet + "\n\n")
    # Some non-apologies also name the act: "I missed the deadline. I'm sorry if …".
    if rng.random() < 0.3 and family not in ("vague",):
        b.add(cap(rng.choice(sc["act"])), "responsibility")
        b.add(". ")
    thing = rng.choice(sc["thing"])
    text = template.format(
        thing=thing, Thing=cap(thing), event=sc["event"],
        Sorry=rng.choice(v["sorry"]),
    )
    if sc["voice"] == "we":
        text = (text.replace("then I'm sorry", "then we're sorry").replace("I'm sorry", "We're sorry").replace("I apologise", "We apologise")
                .replace("I've apologised", "We've apologised").replace("I regret", "We regret")
                .replace("I said sorry", "We said sorry").replace("I'm surprised", "we're surprised")
                .replace("I don't", "we don't").replace("I need", "we need").replace("I trust", "we trust")
                .replace("I expect", "we expect").replace("I think", "we think").replace("I know", "we know")
                .replace("I'd", "we'd").replace("I was", "we were").replace("I had", "we had")
                .replace("I've said I'm", "We've said we're").replace("my plate", "our plate")
                .replace("forgive me", "forgive us").replace("my defence", "our defence")
                .replace("My apologies", "Our apologies").replace("I didn't", "We didn't")
                .replace("It was never my", "It was never our"))
        text = text.replace("we've said I'm", "we've said we're")
    b.add(text)
    return record(f"{sc['key']}-{family}-{n:02}", b, family, sc, PROVENANCE_NON)


def record(rid, b, family, sc, provenance):
    return dict(
        id=rid, text=b.text, non_apology=family, breach=sc["breach"], scope=sc["scope"],
        voice=sc["voice"], provenance=provenance, components=b.spans,
    )


def toml_str(s):
    return json.dumps(s, ensure_ascii=False)


def main():
    rng = random.Random(20261208)
    records = []
    seen = set()
    # Genuine apologies: 17 per scenario, unique texts.
    for sc in SCENARIOS:
        n = 0
        tries = 0
        while n < 17 and tries < 500:
            tries += 1
            r = genuine(rng, sc, n + 1)
            if r["text"] in seen:
                continue
            seen.add(r["text"])
            records.append(r)
            n += 1
    # Non-apologies: each template once, with a scenario in turn, so every family has many
    # surface forms and every scope.
    for family, templates in FAMILIES.items():
        count = 0
        rounds = 2 if family not in ("intent-over-impact", "vague") else 1
        for _ in range(rounds):
            for t in templates:
                for _try in range(20):
                    sc = rng.choice(SCENARIOS)
                    r = non_apology(rng, sc, family, t, count + 1)
                    if r["text"] not in seen:
                        break
                if r["text"] in seen:
                    continue
                seen.add(r["text"])
                records.append(r)
                count += 1
    handwritten = [(t, HANDWRITTEN_PROV) for t in HANDWRITTEN]
    handwritten += [(t, HANDWRITTEN_PROV_2) for t in HANDWRITTEN_2]
    for (rid, family, breach, scope, voice, text, comps), prov in handwritten:
        b = Builder()
        b.text = text
        for cid, quote in comps:
            at = text.index(quote)
            start = len(text[:at].encode("utf-8"))
            b.spans.append((cid, start, start + len(quote.encode("utf-8")), quote))
        records.append(dict(
            id=rid, text=text, non_apology=family, breach=breach, scope=scope, voice=voice,
            provenance=prov, components=b.spans,
        ))
    print("# The apology coach's labelled corpus (issue 18). Generated by generate.py from")
    print("# hand-written phrases, and the whole hand-written texts of handwritten.py; see those")
    print("# files. Do not edit by hand: edit them and run generate.py.")
    print("#")
    print("# non_apology: \"none\" for a genuine apology, or the non-apology family.")
    print("# components: the parts of an apology the text contains, with byte offsets and the")
    print("# quoted words. breach: competence or integrity (Kim et al. 2004). scope: who to whom.")
    for r in records:
        print()
        print("[[text]]")
        for k in ("id", "text", "non_apology", "breach", "scope", "voice", "provenance"):
            print(f"{k} = {toml_str(r[k])}")
        print("components = [")
        for label, start, end, quote in r["components"]:
            print(f"  {{ id = {toml_str(label)}, start = {start}, end = {end}, quote = {toml_str(quote)} }},")
        print("]")


if __name__ == "__main__":
    main()
